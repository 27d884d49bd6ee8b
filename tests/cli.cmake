# Tests of the rebound binary as a user runs it (tests/cli/test_cli.sh),
# and the source rules of STYLE.md (scripts/checksrc.sh).
add_test(NAME cli
  COMMAND sh ${CMAKE_SOURCE_DIR}/tests/cli/test_cli.sh $<TARGET_FILE:rebound>
    ${PROJECT_VERSION}
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set(cli_env "REBOUND_DATA_DIR=${CMAKE_SOURCE_DIR}/data")
if(REBOUND_SANITIZE)
  list(APPEND cli_env "REBOUND_SANITIZE=1")
endif()
set_tests_properties(cli PROPERTIES LABELS cli TIMEOUT 300
  ENVIRONMENT "${cli_env}")

add_test(NAME checksrc
  COMMAND sh ${CMAKE_SOURCE_DIR}/scripts/checksrc.sh ${CMAKE_SOURCE_DIR})
set_tests_properties(checksrc PROPERTIES LABELS cli TIMEOUT 60)

# README.md's table of reasons is the one of classify/reason.c.
add_test(NAME readme_reasons
  COMMAND sh ${CMAKE_SOURCE_DIR}/scripts/readme-reasons.sh --check)
set_tests_properties(readme_reasons PROPERTIES LABELS cli TIMEOUT 60)

# The sources are in the house format (.clang-format).
add_test(NAME format
  COMMAND sh ${CMAKE_SOURCE_DIR}/scripts/format-check.sh ${CMAKE_SOURCE_DIR})
set_tests_properties(format PROPERTIES LABELS cli TIMEOUT 120
  SKIP_RETURN_CODE 77)
