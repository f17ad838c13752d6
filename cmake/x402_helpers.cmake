# Helpers shared by every folder's CMakeLists.txt.

# Warnings are errors in our own code only (third-party headers come in as SYSTEM).
function(x402_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Werror -Wno-missing-field-initializers)
  # GCC 12 at -O3 reports -Wrestrict inside libstdc++'s own std::string operator+ (GCC bug
  # 105329, a false positive in the library, not in our code); silence it.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(${target} PRIVATE -Wno-restrict)
    # With -fsanitize, GCC 12's -Wmaybe-uninitialized fires inside Boost.Beast and libstdc++'s
    # <regex> as inlined into our tests (the instrumentation defeats its flow analysis); the
    # normal build keeps the warning.
    if(X402_SANITIZE)
      target_compile_options(${target} PRIVATE -Wno-maybe-uninitialized)
    endif()
  endif()
endfunction()

# x402_add_library(name SOURCES ... DEPS ...): defines x402_<name> and the alias x402::<name>.
function(x402_add_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(x402_${name} STATIC ${ARG_SOURCES})
  add_library(x402::${name} ALIAS x402_${name})
  target_include_directories(x402_${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(x402_${name} PUBLIC ${ARG_DEPS})
  x402_warnings(x402_${name})
endfunction()

# x402_add_test(name SOURCES ... DEPS ... [LABELS ...] [TIMEOUT s]): a GoogleTest binary run by ctest.
function(x402_add_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gtest_main GTest::gmock)
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR})
  x402_warnings(${name})
  add_test(NAME ${name} COMMAND ${name})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  set_tests_properties(${name} PROPERTIES TIMEOUT ${ARG_TIMEOUT}
    ENVIRONMENT "X402_SOURCE_DIR=${PROJECT_SOURCE_DIR};X402_BINARY_DIR=${PROJECT_BINARY_DIR}")
  if(ARG_LABELS)
    set_tests_properties(${name} PROPERTIES LABELS "${ARG_LABELS}")
  endif()
endfunction()
