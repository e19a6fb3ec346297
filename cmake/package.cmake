# `cpack -G DEB` in the build folder (after scripts/build.sh): the tapedeck .deb. It holds
#   /usr/bin/tapedeck
#   /usr/share/tapedeck/web/                          the web player (found there by the binary)
#   /usr/share/tapedeck/node_modules/<package>/...    exactly the npm files the server serves under
#                                                     /vendor/ (src/server/static_files.cpp), the
#                                                     bundled sample CSV, and their licences
#   /lib/systemd/system/tapedeck.service              `tapedeck serve`, hardened
#   /lib/systemd/system/tapedeck-worker@.service      `tapedeck worker`, hardened alike
#   /etc/tapedeck/tapedeck.conf                       serve's options (a conffile)
#   /etc/tapedeck/worker.conf                         the workers' store and options (a conffile)
#   /usr/share/doc/tapedeck/                          README, deploy guide and proxy configs
# The npm files come from node_modules/ (scripts/bootstrap.sh runs `npm ci`). Checked by
# tests/integration/test_package.py.

# cpack (and `cmake --install`) installs what is already built instead of building every target
# first: CI builds everything anyway, and a developer who built only `tapedeck` can package it.
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY ON)

set(TAPEDECK_SHARE share/tapedeck)
set(TAPEDECK_NPM ${PROJECT_SOURCE_DIR}/node_modules)

install(TARGETS tapedeck RUNTIME DESTINATION bin)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/web/ DESTINATION ${TAPEDECK_SHARE}/web)

# The /vendor/ mounts of static_files.cpp (kVendorMounts), directory for directory.
foreach(dir lightweight-charts/dist codemirror/lib codemirror/mode/lua)
  get_filename_component(parent ${dir} DIRECTORY)
  install(DIRECTORY ${TAPEDECK_NPM}/${dir} DESTINATION ${TAPEDECK_SHARE}/node_modules/${parent})
endforeach()
# The sample `tapedeck serve` imports as dataset "sp500" (FindSampleCsv).
install(FILES ${TAPEDECK_NPM}/vega-datasets/data/sp500-2000.csv
        DESTINATION ${TAPEDECK_SHARE}/node_modules/vega-datasets/data)
# What each package is and its licence (vega-datasets ships none: BSD-3-Clause, in package.json).
foreach(pkg lightweight-charts codemirror vega-datasets)
  install(FILES ${TAPEDECK_NPM}/${pkg}/package.json
          DESTINATION ${TAPEDECK_SHARE}/node_modules/${pkg})
  if(EXISTS ${TAPEDECK_NPM}/${pkg}/LICENSE)
    install(FILES ${TAPEDECK_NPM}/${pkg}/LICENSE DESTINATION ${TAPEDECK_SHARE}/node_modules/${pkg})
  endif()
endforeach()

install(FILES ${PROJECT_SOURCE_DIR}/packaging/deb/tapedeck.service
              ${PROJECT_SOURCE_DIR}/packaging/deb/tapedeck-worker@.service
        DESTINATION /lib/systemd/system)
install(FILES ${PROJECT_SOURCE_DIR}/packaging/deb/tapedeck.conf
              ${PROJECT_SOURCE_DIR}/packaging/deb/worker.conf
        DESTINATION /etc/tapedeck)
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/docs/deploy.md
        DESTINATION share/doc/tapedeck)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/deploy/ DESTINATION share/doc/tapedeck/deploy)

set(CPACK_PACKAGE_NAME tapedeck)
set(CPACK_PACKAGE_VENDOR tapedeck)
set(CPACK_PACKAGE_CONTACT "tapedeck maintainers <tapedeck@localhost>")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION misc)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${CPACK_PACKAGE_CONTACT}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "backtesting server with a web player for trading strategies")
# CPack puts CPACK_PACKAGE_DESCRIPTION_SUMMARY first and indents these lines itself; an empty line
# becomes " .".
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "\
tapedeck runs trading strategies (built in, or Lua scripts) over historical price bars and
plays the result back in the browser like a tape: price chart, orders, trades and equity,
at any speed, over WebSocket or Server-Sent Events. It also runs parameter sweeps.

This package holds the tapedeck command, the web player with the JavaScript libraries it
loads, a sample data set (S&P 500 daily bars), and hardened systemd services for
`tapedeck serve` (configured in /etc/tapedeck/tapedeck.conf) and for `tapedeck worker`
processes sharing a PostgreSQL store with several serve nodes (tapedeck-worker@.service,
configured in /etc/tapedeck/worker.conf). Neither is enabled on install.")
# Shared libraries found by dpkg-shlibdeps (packages dpkg-dev and file), plus the two the binary
# loads with dlopen on first use, which dpkg-shlibdeps does not see: libpq when a PostgreSQL store
# is opened (src/store/pq_lib.h; version 14 for pipeline mode) and OpenSSL 3's libcrypto
# (src/common/crypto.h). The binary needs nothing else at run time (it runs no other program).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "libpq5 (>= 14), libssl3 (>= 3.0.0)")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/packaging/deb/conffiles ${PROJECT_SOURCE_DIR}/packaging/deb/postinst
    ${PROJECT_SOURCE_DIR}/packaging/deb/prerm ${PROJECT_SOURCE_DIR}/packaging/deb/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_GENERATOR DEB)
include(CPack)
