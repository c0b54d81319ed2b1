# Cross build for x86_64 Windows with Debian's mingw-w64.
#   cmake -DCMAKE_TOOLCHAIN_FILE=cmake/mingw-w64-x86_64.cmake -DSG_WINDOWS_DEPS=<prefix> ...
# where <prefix> is what scripts/windows-deps prints.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_VERSION 10.0)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(SG_MINGW x86_64-w64-mingw32)

set(CMAKE_C_COMPILER ${SG_MINGW}-gcc)
set(CMAKE_CXX_COMPILER ${SG_MINGW}-g++)
set(CMAKE_RC_COMPILER ${SG_MINGW}-windres)
set(CMAKE_AR ${SG_MINGW}-ar CACHE FILEPATH "")
set(CMAKE_RANLIB ${SG_MINGW}-ranlib CACHE FILEPATH "")

# Target libraries come from the dependency prefix; programs (protoc-c) from the host.
set(CMAKE_FIND_ROOT_PATH /usr/${SG_MINGW})
if(SG_WINDOWS_DEPS)
  list(APPEND CMAKE_FIND_ROOT_PATH ${SG_WINDOWS_DEPS})
  set(ENV{PKG_CONFIG_LIBDIR} ${SG_WINDOWS_DEPS}/lib/pkgconfig)
  set(ENV{PKG_CONFIG_PATH} "")
endif()
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# Run cross-built programs (tests) under Wine when it is there.
find_program(SG_WINE NAMES wine64 wine)
if(SG_WINE)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${SG_WINE})
endif()
