# Packages, built by CPack with `cmake --build <build> --target package`:
#   Linux:   siteguard_<version>_<arch>.deb (DEB), for /usr, with the systemd
#            unit, /etc/siteguard/siteguard.yaml (a conffile) and the
#            maintainer scripts of deploy/debian/
#   Windows: siteguard-<version>-win64.zip (ZIP), one folder holding the
#            executables, their DLLs, plugins\, config\example.yaml and
#            deploy\windows\*.ps1 (where install.ps1 looks for them)
# Included from CMakeLists.txt once every target exists; the plugins are the
# targets sg_add_plugin recorded in the global property SG_PLUGIN_TARGETS.
#
# Plugins: an executable without plugin_dir or $SG_PLUGIN_DIR looks in
# <its folder>/plugins, then <its folder>/../lib/siteguard/plugins, then the
# folder compiled in here (notify/pluginlib.h), so a build tree, an unpacked
# zip, an installed package and a package unpacked anywhere (dpkg-deb -x)
# each find their own.

get_property(SG_PLUGIN_TARGETS GLOBAL PROPERTY SG_PLUGIN_TARGETS)
set(CPACK_PACKAGE_NAME siteguard)
set(CPACK_PACKAGE_VENDOR siteguard)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "site failover orchestrator for Hyper-V replica collections")
set(CPACK_STRIP_FILES ON)

if(WIN32)
  # --- the Windows zip: everything beside siteguard.exe ------------------------
  install(TARGETS siteguard siteguardctl RUNTIME DESTINATION .)
  install(TARGETS ${SG_PLUGIN_TARGETS} LIBRARY DESTINATION plugins RUNTIME DESTINATION plugins)
  # The DLLs windows.cmake copies beside the executables (the dependency
  # prefix's and the compiler's runtime), all but the tests' cmocka.
  foreach(dll ${SG_WINDOWS_RUNTIME_DLLS})
    if(NOT dll MATCHES "cmocka")
      install(FILES ${CMAKE_BINARY_DIR}/${dll} DESTINATION .)
      # Without their debug sections (the compiler's libstdc++ has 20 MB of them).
      install(CODE "execute_process(COMMAND ${CMAKE_STRIP} --strip-debug
                    \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${dll}\" COMMAND_ERROR_IS_FATAL ANY)")
    endif()
  endforeach()
  install(FILES config/example.yaml DESTINATION config)
  install(FILES deploy/windows/install.ps1 deploy/windows/cluster-role.ps1
          DESTINATION deploy/windows)
  install(FILES README.md DESTINATION .)
  install(FILES plugins/README.md DESTINATION plugins)
  set(CPACK_GENERATOR ZIP)
  set(CPACK_PACKAGE_FILE_NAME siteguard-${PROJECT_VERSION}-win64)
  set(CPACK_INCLUDE_TOPLEVEL_DIRECTORY ON)
else()
  # --- the Debian package --------------------------------------------------------
  set(SG_PACKAGE_PREFIX /usr)
  # The same relative folder as SG_PLUGINLIB_PACKAGE_DIR in notify/pluginlib.h.
  set(SG_INSTALL_PLUGINDIR lib/siteguard/plugins)
  set(SG_PLUGIN_INSTALL_DIR ${SG_PACKAGE_PREFIX}/${SG_INSTALL_PLUGINDIR} CACHE STRING
      "Plugin folder compiled into siteguard, looked in last (empty: none)")
  set_property(SOURCE ${CMAKE_SOURCE_DIR}/service/src/notify/pluginlib.c APPEND PROPERTY
               COMPILE_DEFINITIONS SG_PLUGIN_INSTALL_DIR="${SG_PLUGIN_INSTALL_DIR}")

  install(TARGETS siteguard siteguardctl sg-probe RUNTIME DESTINATION bin)
  install(TARGETS ${SG_PLUGIN_TARGETS} LIBRARY DESTINATION ${SG_INSTALL_PLUGINDIR})
  # Debian 12 keeps units in /lib/systemd/system (systemd.pc says where).
  pkg_get_variable(SG_SYSTEMD_UNITDIR systemd systemdsystemunitdir)
  if(NOT SG_SYSTEMD_UNITDIR)
    set(SG_SYSTEMD_UNITDIR /lib/systemd/system)
  endif()
  install(FILES deploy/systemd/siteguard.service DESTINATION ${SG_SYSTEMD_UNITDIR})
  install(FILES config/example.yaml DESTINATION /etc/siteguard RENAME siteguard.yaml)
  install(FILES config/example.yaml DESTINATION share/doc/siteguard)
  install(FILES README.md DESTINATION share/doc/siteguard)
  install(FILES plugins/README.md DESTINATION share/doc/siteguard RENAME plugins.md)
  # The data folder; postinst gives it to the siteguard user, postrm purge removes it.
  install(DIRECTORY DESTINATION /var/lib/siteguard)

  set(CPACK_GENERATOR DEB)
  set(CPACK_PACKAGING_INSTALL_PREFIX ${SG_PACKAGE_PREFIX})
  set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT) # siteguard_<version>_<arch>.deb
  set(SG_PACKAGE_MAINTAINER "siteguard maintainers <siteguard@example.invalid>" CACHE STRING
      "Maintainer field of the Debian package")
  set(CPACK_DEBIAN_PACKAGE_MAINTAINER ${SG_PACKAGE_MAINTAINER})
  set(CPACK_DEBIAN_PACKAGE_SECTION admin)
  set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
  # Below CPACK_PACKAGE_DESCRIPTION_SUMMARY, the synopsis.
  set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "siteguard hears health events from probes at every \
site over ZeroMQ, decides by\npolicy when a site is lost, and fails its collections over in \
plan order.\nWith siteguardctl, sg-probe, the sink plugins and a systemd unit.")
  # The runtime libraries from dpkg-shlibdeps; adduser for postinst.
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
  set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
  set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
      ${CMAKE_SOURCE_DIR}/deploy/debian/conffiles ${CMAKE_SOURCE_DIR}/deploy/debian/postinst
      ${CMAKE_SOURCE_DIR}/deploy/debian/prerm ${CMAKE_SOURCE_DIR}/deploy/debian/postrm)
  set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
endif()

include(CPack)
