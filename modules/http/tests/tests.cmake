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

# The differential test: Debian's llhttp sources and libhttp-parser built
# into this one program as oracles (deps.sh installs them); skipped when
# they are missing and in cross builds.
set(CORIO_HTTP_LLHTTP_DIR /usr/share/llhttp)
find_path(CORIO_HTTP_LLHTTP_INC llhttp.h PATHS /usr/share/include/llhttp NO_DEFAULT_PATH)
find_path(CORIO_HTTP_PARSER_INC http_parser.h)
find_library(CORIO_HTTP_PARSER_LIB NAMES libhttp_parser.a http_parser)
if(NOT CMAKE_CROSSCOMPILING AND EXISTS ${CORIO_HTTP_LLHTTP_DIR}/llhttp.c AND CORIO_HTTP_LLHTTP_INC
   AND CORIO_HTTP_PARSER_INC AND CORIO_HTTP_PARSER_LIB)
  add_library(corio_http_oracles STATIC
    ${CORIO_HTTP_LLHTTP_DIR}/llhttp.c ${CORIO_HTTP_LLHTTP_DIR}/api.c ${CORIO_HTTP_LLHTTP_DIR}/http.c
    tests/oracles/oracle_llhttp.c tests/oracles/oracle_http_parser.c)
  target_include_directories(corio_http_oracles PRIVATE ${CORIO_HTTP_LLHTTP_INC} ${CORIO_HTTP_PARSER_INC})
  # Third-party code: its warnings are not ours to fix.
  set_source_files_properties(${CORIO_HTTP_LLHTTP_DIR}/llhttp.c ${CORIO_HTTP_LLHTTP_DIR}/api.c
    ${CORIO_HTTP_LLHTTP_DIR}/http.c PROPERTIES COMPILE_OPTIONS "-w")
  target_link_libraries(corio_http_oracles PUBLIC ${CORIO_HTTP_PARSER_LIB})
  foreach(name test_http_differential)
    add_executable(${name} tests/${name}.c)
    target_link_libraries(${name} PRIVATE corio_http_static corio_http_oracles)
    target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR}/tests ${CMAKE_CURRENT_SOURCE_DIR}/tests)
    set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/tests)
    add_test(NAME ${name} COMMAND ${name})
    set_tests_properties(${name} PROPERTIES TIMEOUT 120 SKIP_RETURN_CODE 77)
  endforeach()
else()
  message(STATUS "corio-http: llhttp / http_parser sources not found, no differential test (modules/http/deps.sh)")
endif()
