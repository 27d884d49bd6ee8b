# Kafka tests (tests/kafka/): the publisher, the embedded broker and the
# sends consumer against real Kafka clients over loopback TCP (kcat and
# a librdkafka consumer in kafkatool), each scenario its own test.
add_executable(kafkatool ${CMAKE_SOURCE_DIR}/tests/kafka/kafkatool.c)
target_include_directories(kafkatool PRIVATE ${CMAKE_SOURCE_DIR})
target_compile_options(kafkatool PRIVATE ${REBOUND_WARNINGS})
target_link_libraries(kafkatool PRIVATE ${REBOUND_LIBS} PkgConfig::RDKAFKA
  PkgConfig::SQLITE PkgConfig::JANSSON PkgConfig::GMIME Threads::Threads)

set(kafka_env "REBOUND_DATA_DIR=${CMAKE_SOURCE_DIR}/data")
if(REBOUND_SANITIZE)
  list(APPEND kafka_env "REBOUND_SANITIZE=1")
endif()
file(GLOB KAFKA_TESTS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/kafka/test_*.sh)
foreach(script ${KAFKA_TESTS})
  get_filename_component(name ${script} NAME_WE)
  string(REGEX REPLACE "^test_" "" name ${name})
  add_test(NAME kafka_${name}
    COMMAND sh ${script} $<TARGET_FILE:rebound> $<TARGET_FILE:kafkatool>
    WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  set_tests_properties(kafka_${name} PROPERTIES LABELS kafka TIMEOUT 180
    SKIP_RETURN_CODE 77
    ENVIRONMENT "${kafka_env}")
endforeach()
