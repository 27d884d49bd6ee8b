# Fuzz targets: tests/fuzz/fuzz_<target>.c, each with a seed corpus in
# tests/fuzz/seeds/<target>/ and a dictionary tests/fuzz/<target>.dict (both
# default to classify's).  fuzz_classify drives the public API; fuzz_mime and
# fuzz_text reach classify's internals through classify/classify_int.h.
#
# REBOUND_FUZZ=ON (clang): libFuzzer binaries, instrumented libraries, and a
#   ctest "fuzz_<target>_run" per target that fuzzes for REBOUND_FUZZ_SECONDS
#   (label "fuzz"); any crash, leak, timeout or sanitizer report fails it and
#   leaves the reproducer in <build>/fuzz/<target>/artifacts/.
# REBOUND_FUZZ=OFF: each target is linked with tests/fuzz/replay.c instead and
#   a ctest "fuzz_<target>_replay" runs the seeds and saved reproducers
#   (tests/fuzz/regress/<target>/, if any) once, so they guard every build.

set(FUZZ_DIR ${CMAKE_SOURCE_DIR}/tests/fuzz)
file(GLOB FUZZ_TARGET_SOURCES CONFIGURE_DEPENDS ${FUZZ_DIR}/fuzz_*.c)

if(REBOUND_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "REBOUND_FUZZ needs clang: "
      "cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DREBOUND_FUZZ=ON")
  endif()
  set(REBOUND_FUZZ_SECONDS 60 CACHE STRING
    "Seconds each fuzz_<target>_run ctest fuzzes")
  set(FUZZ_SANITIZERS address,undefined)
  set(FUZZ_COMMON_FLAGS -fno-sanitize-recover=all -fno-omit-frame-pointer -g)
  # Our libraries get coverage instrumentation (without libFuzzer's main)
  # so that libFuzzer is guided by the classifier's own branches; gmime and
  # glib from Debian are not instrumented (TOOLCHAIN.md section 7).  Every
  # executable linking them then needs the sanitizer runtimes.
  foreach(lib rebound_core rebound_classify)
    target_compile_options(${lib} PRIVATE
      -fsanitize=fuzzer-no-link,${FUZZ_SANITIZERS} ${FUZZ_COMMON_FLAGS})
    target_link_options(${lib} INTERFACE -fsanitize=${FUZZ_SANITIZERS})
  endforeach()
endif()

foreach(src ${FUZZ_TARGET_SOURCES})
  get_filename_component(target ${src} NAME_WE)
  string(REGEX REPLACE "^fuzz_" "" short ${target})
  # A target without seeds or dictionary of its own (fuzz_mime reads
  # whole messages too) uses classify's.
  set(seeds ${FUZZ_DIR}/seeds/${short})
  if(NOT IS_DIRECTORY ${seeds})
    set(seeds ${FUZZ_DIR}/seeds/classify)
  endif()
  set(dict ${FUZZ_DIR}/${short}.dict)
  if(NOT EXISTS ${dict})
    set(dict ${FUZZ_DIR}/classify.dict)
  endif()
  if(REBOUND_FUZZ)
    add_executable(${target} ${src})
    target_compile_options(${target} PRIVATE ${REBOUND_WARNINGS}
      -fsanitize=fuzzer,${FUZZ_SANITIZERS} ${FUZZ_COMMON_FLAGS})
    target_link_options(${target} PRIVATE -fsanitize=fuzzer,${FUZZ_SANITIZERS})
  else()
    add_executable(${target} ${src} ${FUZZ_DIR}/replay.c)
    target_compile_options(${target} PRIVATE ${REBOUND_WARNINGS})
  endif()
  target_include_directories(${target} PRIVATE ${CMAKE_SOURCE_DIR})
  target_compile_definitions(${target} PRIVATE
    REBOUND_FUZZ_RULES_DIR="${CMAKE_SOURCE_DIR}/data/rules")
  target_link_libraries(${target} PRIVATE rebound_classify rebound_core
    PkgConfig::JANSSON PkgConfig::GMIME)

  if(REBOUND_FUZZ)
    set(work ${CMAKE_BINARY_DIR}/fuzz/${short})
    # -max_len: room for the MIME limits (256 parts, 1000 headers); libFuzzer
    # still starts short and grows inputs slowly (-len_control).
    set(args -max_total_time=${REBOUND_FUZZ_SECONDS} -rss_limit_mb=2048 -max_len=65536
      -timeout=10 -print_final_stats=1 -artifact_prefix=${work}/artifacts/)
    list(APPEND args -dict=${dict})
    # The working corpus lives in the build dir and grows run after run;
    # the seeds are copied into it before each run (never written back).
    add_test(NAME ${target}_seed
      COMMAND ${CMAKE_COMMAND} -E copy_directory ${seeds} ${work}/corpus)
    add_test(NAME ${target}_mkdir
      COMMAND ${CMAKE_COMMAND} -E make_directory ${work}/artifacts)
    set_tests_properties(${target}_seed ${target}_mkdir PROPERTIES
      LABELS fuzz FIXTURES_SETUP ${target}_corpus)
    add_test(NAME ${target}_run COMMAND ${target} ${args} ${work}/corpus)
    # Room past the fuzzing time for loading the corpus and a final report.
    math(EXPR timeout "${REBOUND_FUZZ_SECONDS} + 300")
    set_tests_properties(${target}_run PROPERTIES LABELS fuzz
      FIXTURES_REQUIRED ${target}_corpus
      TIMEOUT ${timeout}
      ENVIRONMENT "UBSAN_OPTIONS=print_stacktrace=1;ASAN_OPTIONS=detect_leaks=1")
  else()
    set(inputs ${seeds})
    if(EXISTS ${FUZZ_DIR}/regress/${short})
      list(APPEND inputs ${FUZZ_DIR}/regress/${short})
    endif()
    add_test(NAME ${target}_replay COMMAND ${target} ${inputs})
    set_tests_properties(${target}_replay PROPERTIES LABELS unit)
  endif()
endforeach()
