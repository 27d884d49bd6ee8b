# bench_ingest: `rebound ingest` throughput and peak RSS beside the
# classify-only rate of the same run (bench/run-ingest.sh).
add_executable(bench_ingest ${CMAKE_SOURCE_DIR}/bench/ingest.c)
target_include_directories(bench_ingest PRIVATE ${CMAKE_SOURCE_DIR})
target_compile_options(bench_ingest PRIVATE ${REBOUND_WARNINGS})
target_compile_definitions(bench_ingest PRIVATE
  REBOUND_BENCH_RULES_DIR="${CMAKE_SOURCE_DIR}/data/rules")
target_link_libraries(bench_ingest PRIVATE rebound_store rebound_classify
  rebound_core)
