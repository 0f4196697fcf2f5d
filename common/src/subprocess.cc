#include "millrace/common/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

extern char** environ;

namespace millrace {
namespace {

struct Pipe {
  int fd[2] = {-1, -1};
  ~Pipe() {
    for (int f : fd)
      if (f >= 0) ::close(f);
  }
};

}  // namespace

Result<SubprocessResult> RunSubprocess(const std::vector<std::string>& argv,
                                       const SubprocessOptions& o) {
  if (argv.empty() || argv[0].empty()) return Status::InvalidArgument("no program to run");
  Pipe out;
  if (::pipe2(out.fd, O_CLOEXEC) != 0)
    return Status::IOError(std::string("pipe: ") + std::strerror(errno));

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out.fd[1], 1);
  posix_spawn_file_actions_adddup2(&actions, out.fd[1], 2);
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);  // the daemon blocks signals in its threads
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setpgroup(&attr, 0);  // its own group: stopping it stops what it started
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);

  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int err = ::posix_spawnp(&pid, args[0], &actions, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (err == ENOENT) return Status::NotFound("cannot run " + argv[0] + ": not found");
  if (err != 0) return Status::IOError("cannot run " + argv[0] + ": " + std::strerror(err));
  ::close(out.fd[1]);
  out.fd[1] = -1;
  // Whatever ends the wait early, the child's group is killed and the child reaped.
  struct Reaper {
    pid_t pid;
    bool reaped = false;
    ~Reaper() {
      if (reaped) return;
      ::kill(-pid, SIGKILL);
      while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
      }
    }
  } reaper{pid};

  SubprocessResult result;
  std::string pending;
  auto keep = [&](std::string_view text) {
    result.output.append(text);
    if (result.output.size() > o.keep_bytes * 2)
      result.output.erase(0, result.output.size() - o.keep_bytes);
  };
  const auto start = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point killed_at{}, sigkilled_at{};
  bool open = true;
  char buf[8192];
  while (open) {
    pollfd p{out.fd[0], POLLIN, 0};
    const int n = ::poll(&p, 1, 200);
    if (n < 0 && errno != EINTR)
      return Status::IOError(std::string("poll: ") + std::strerror(errno));
    if (n > 0) {
      const ssize_t got = ::read(out.fd[0], buf, sizeof buf);
      if (got < 0 && errno != EINTR && errno != EAGAIN) {
        return Status::IOError(std::string("reading ") + argv[0] +
                               "'s output: " + std::strerror(errno));
      }
      if (got == 0) open = false;
      if (got > 0) {
        keep(std::string_view(buf, static_cast<std::size_t>(got)));
        pending.append(buf, static_cast<std::size_t>(got));
        for (std::size_t nl; (nl = pending.find('\n')) != std::string::npos;
             pending.erase(0, nl + 1))
          if (o.on_line) o.on_line(std::string_view(pending).substr(0, nl));
      }
    }
    const auto now = std::chrono::steady_clock::now();
    if (!result.stopped) {
      result.timed_out = now - start > o.timeout;
      if (result.timed_out || (o.stop && o.stop())) {
        result.stopped = true;
        killed_at = now;
        ::kill(-pid, SIGTERM);
      }
    } else if (killed_at != std::chrono::steady_clock::time_point{} &&
               now - killed_at > std::chrono::seconds(10)) {
      ::kill(-pid, SIGKILL);
      killed_at = {};
      sigkilled_at = now;
    } else if (sigkilled_at != std::chrono::steady_clock::time_point{} &&
               now - sigkilled_at > std::chrono::seconds(2)) {
      open = false;  // something outside its group holds the pipe: stop reading
    }
  }
  if (!pending.empty() && o.on_line) o.on_line(pending);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return Status::IOError(std::string("waitpid: ") + std::strerror(errno));
  }
  reaper.reaped = true;
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  if (result.output.size() > o.keep_bytes)
    result.output.erase(0, result.output.size() - o.keep_bytes);
  return result;
}

}  // namespace millrace
