"""The checker's report: an "ok" line for each check that passes, a "skip" line for each
tool that is not installed (with --require-tools a failure instead), and the failures, which
the entry point prints at the end as "FAIL file:line: ..." lines (and then exits 1)."""

failures = []
oks = 0


def fail(where, msg):
    failures.append(f"{where}: {msg}" if where else msg)


def ok(msg):
    global oks
    oks += 1
    print(f"ok   {msg}")


def skip(msg, args):
    if args.require_tools:
        fail("", f"{msg} (--require-tools)")
    else:
        print(f"skip {msg}")
