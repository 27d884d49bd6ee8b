# bench_kafka: the outbox drain rate to the embedded broker, and the
# publisher beside `rebound ingest` for Kafka on against off
# (bench/run-kafka.sh).
add_executable(bench_kafka ${CMAKE_SOURCE_DIR}/bench/kafka.c)
target_include_directories(bench_kafka PRIVATE ${CMAKE_SOURCE_DIR})
target_compile_options(bench_kafka PRIVATE ${REBOUND_WARNINGS})
target_link_libraries(bench_kafka PRIVATE ${REBOUND_LIBS} PkgConfig::SQLITE
  PkgConfig::RDKAFKA)
