# corpus_accuracy: the classifier scored on the shared labelled corpus
# (../shared/corpus beside the project) by ../shared/tools/accuracy.sh.
# Accuracy figures are printed, not asserted; the test fails only if the
# classifier crashed or printed nothing.  Skipped (exit 77) when the
# corpus or python3 is missing.
add_test(NAME corpus_accuracy
  COMMAND sh ${CMAKE_SOURCE_DIR}/scripts/corpus-accuracy.sh
    $<TARGET_FILE:rebound>
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(corpus_accuracy PROPERTIES LABELS accuracy
  SKIP_RETURN_CODE 77 TIMEOUT 600
  ENVIRONMENT "REBOUND_DATA_DIR=${CMAKE_SOURCE_DIR}/data")
