# Compiler settings shared by every Millrace target: strict warnings (errors in CI),
# optional sanitizers. Call millrace_target_defaults(<target>) on each target.

set(MILLRACE_WARNINGS
    -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast
    -Wcast-align -Woverloaded-virtual -Wimplicit-fallthrough
    -Wformat=2)

if(MILLRACE_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

# libFuzzer build (clang only; tests/fuzz/run.sh makes it): every library gets coverage
# instrumentation, the fuzz targets link libFuzzer's main.
if(MILLRACE_FUZZ)
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()

function(millrace_target_defaults target)
  target_compile_options(${target} PRIVATE ${MILLRACE_WARNINGS})
  if(MILLRACE_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
