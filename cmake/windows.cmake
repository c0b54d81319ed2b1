# Windows-only parts of the build, included from CMakeLists.txt when WIN32:
# the WMI provider's libraries, the Event Log message table linked into
# siteguard.exe, and the dependency DLLs copied next to the executables so
# that the build folder runs as it is (under Wine too).
enable_language(RC)

target_compile_definitions(sgcore PUBLIC _WIN32_WINNT=0x0A00 WINVER=0x0A00
                           __USE_MINGW_ANSI_STDIO=1 SG_WITH_WMI=1)
target_link_libraries(sgcore PUBLIC wbemuuid ole32 oleaut32 advapi32 ws2_32 bcrypt)
# POSIX spellings for the core (timegm, strndup, rename over a file, ...).
foreach(lib sgcore sgtools)
  target_compile_options(${lib} PRIVATE
    "SHELL:-include ${CMAKE_SOURCE_DIR}/service/src/platform/win_compat.h")
endforeach()
# GCC checks user printf-like functions as Microsoft's printf here, which has
# no %zu: the format checks belong to the Linux build.
add_compile_options(-Wno-format)
target_compile_options(sgcore PUBLIC -Wno-format)
# The drill report renderer (siteguardctl's too) formats with %zu: C99 stdio.
target_compile_definitions(sgdrillreport PUBLIC __USE_MINGW_ANSI_STDIO=1)
target_compile_options(sgdrillreport PUBLIC -Wno-format)
# GCC's own runtime linked in; winpthread comes from the dependency prefix.
add_link_options(-static-libgcc)

# Event Log messages: windmc makes messages.rc (+ MSG00409.bin), windres links it.
find_program(SG_WINDMC NAMES x86_64-w64-mingw32-windmc windmc REQUIRED)
set(SG_MC_DIR ${CMAKE_BINARY_DIR}/gen/messages)
file(MAKE_DIRECTORY ${SG_MC_DIR})
add_custom_command(
  OUTPUT ${SG_MC_DIR}/messages.rc ${SG_MC_DIR}/messages.h
  COMMAND ${SG_WINDMC} -r ${SG_MC_DIR} -h ${SG_MC_DIR}
          ${CMAKE_SOURCE_DIR}/service/src/platform/messages.mc
  DEPENDS ${CMAKE_SOURCE_DIR}/service/src/platform/messages.mc
  COMMENT "windmc messages.mc")
set(SG_WINDOWS_EXE_SRCS ${SG_MC_DIR}/messages.rc)
set(CMAKE_RC_FLAGS "${CMAKE_RC_FLAGS} -I${SG_MC_DIR}")

# The dependency DLLs next to siteguard.exe and the tests, with the compiler's
# runtime DLLs they need (libzmq is C++); their names in SG_WINDOWS_RUNTIME_DLLS
# (for the zip: cmake/Packaging.cmake).
set(SG_WINDOWS_RUNTIME_DLLS)
if(SG_WINDOWS_DEPS)
  file(GLOB SG_DEP_DLLS ${SG_WINDOWS_DEPS}/bin/*.dll)
  file(COPY ${SG_DEP_DLLS} DESTINATION ${CMAKE_BINARY_DIR})
  foreach(dll ${SG_DEP_DLLS})
    get_filename_component(name ${dll} NAME)
    list(APPEND SG_WINDOWS_RUNTIME_DLLS ${name})
  endforeach()
endif()
foreach(dll libstdc++-6.dll libgcc_s_seh-1.dll libwinpthread-1.dll)
  execute_process(COMMAND ${CMAKE_C_COMPILER} -print-file-name=${dll}
                  OUTPUT_VARIABLE SG_RUNTIME_DLL OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(IS_ABSOLUTE "${SG_RUNTIME_DLL}" AND EXISTS "${SG_RUNTIME_DLL}")
    file(COPY ${SG_RUNTIME_DLL} DESTINATION ${CMAKE_BINARY_DIR})
    list(APPEND SG_WINDOWS_RUNTIME_DLLS ${dll})
  endif()
endforeach()
list(REMOVE_DUPLICATES SG_WINDOWS_RUNTIME_DLLS)
