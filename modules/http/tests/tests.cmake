# Every test is its own program, as in the core: exit 0 ok, 77 skipped.
set(CORIO_HTTP_TESTS test_http_parser)
if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/tests/test_http_server.c)
  list(APPEND CORIO_HTTP_TESTS test_http_server)
endif()
foreach(name ${CORIO_HTTP_TESTS})
  add_executable(${name} tests/${name}.c)
  target_link_libraries(${name} PRIVATE corio_http_static)
  target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR}/tests)
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/tests)
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES TIMEOUT 60 SKIP_RETURN_CODE 77)
endforeach()

# examples/httpbin from the outside (python's http.client, raw sockets,
# curl), every route; HTTPS too when the TLS module is built.
find_program(CORIO_HTTP_PYTHON3 python3)
if(CORIO_BUILD_EXAMPLES AND CORIO_HTTP_PYTHON3 AND NOT CMAKE_CROSSCOMPILING)
  add_test(NAME test_httpbin COMMAND ${CORIO_HTTP_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/tests/test_httpbin.py
           $<TARGET_FILE:httpbin>)
  set_tests_properties(test_httpbin PROPERTIES TIMEOUT 300 SKIP_RETURN_CODE 77)
endif()
