# Debian packages, built by CPack: `cmake --build build --target package` (or
# installers/build-packages) makes
#   millrace-edge     mes-edge, mesctl, mes-sim, millrace-edge-upgrade, the mes-edge unit,
#                     /etc/millrace/edge.toml
#   millrace-central  mes-central, the mes-central unit, /etc/millrace/central.toml
# Each runs as the static system user `millrace` its postinst makes, keeps its data in
# /var/lib/millrace/<edge|central> on remove and deletes it on purge (installers/debian/).

set(MILLRACE_PACKAGE_VERSION "${PROJECT_VERSION}" CACHE STRING
    "The Debian version of the packages (an upgrade needs a higher one)")
set(pkg_build ${CMAKE_BINARY_DIR}/packaging)

install(TARGETS mes-edge mesctl mes-sim RUNTIME DESTINATION bin COMPONENT edge)
install(TARGETS mes-central RUNTIME DESTINATION bin COMPONENT central)
# An upgrade that rolls back: the site bundle's installer, run by millrace-edge-upgrade on a
# bare package.
install(PROGRAMS ${CMAKE_SOURCE_DIR}/installers/edge-upgrade DESTINATION sbin
        RENAME millrace-edge-upgrade COMPONENT edge)
install(PROGRAMS ${CMAKE_SOURCE_DIR}/installers/bundle/install.sh DESTINATION lib/millrace
        RENAME edge-install.sh COMPONENT edge)

# Every package: its unit, its configuration (a conffile), the configuration reference, the
# copyright and a changelog; maintainer scripts from one template each.
foreach(role edge central)
  set(ROLE ${role})
  set(PACKAGE millrace-${role})
  set(DAEMON mes-${role})
  # The edge starts as soon as its file is set up for a site; central also needs its
  # database migrated, so a first installation leaves it to the operator to start.
  if(role STREQUAL edge)
    set(START_ON_INSTALL yes)
  else()
    set(START_ON_INSTALL no)
  endif()
  set(dir ${pkg_build}/${role})
  foreach(script postinst prerm postrm)
    configure_file(${CMAKE_SOURCE_DIR}/installers/debian/${script}.in ${dir}/${script} @ONLY
                   FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ
                                    GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
  endforeach()
  file(WRITE ${dir}/conffiles "/etc/millrace/${role}.toml\n")
  file(WRITE ${dir}/changelog
       "${PACKAGE} (${MILLRACE_PACKAGE_VERSION}) stable; urgency=medium\n\n"
       "  * Millrace ${MILLRACE_PACKAGE_VERSION}.\n\n"
       " -- Millrace developers <packages@millrace.invalid>  Mon, 07 Dec 2026 00:00:00 +0000\n")
  execute_process(COMMAND gzip -9nf ${dir}/changelog)
  install(FILES ${CMAKE_SOURCE_DIR}/deploy/systemd/${DAEMON}.service
          DESTINATION lib/systemd/system COMPONENT ${role})
  install(FILES ${CMAKE_SOURCE_DIR}/deploy/config/${role}.toml
          DESTINATION /etc/millrace COMPONENT ${role})
  install(FILES ${CMAKE_SOURCE_DIR}/deploy/config/README.md
          DESTINATION share/doc/${PACKAGE} RENAME config.md COMPONENT ${role})
  install(FILES ${CMAKE_SOURCE_DIR}/installers/debian/copyright ${dir}/changelog.gz
          DESTINATION share/doc/${PACKAGE} COMPONENT ${role})
  string(TOUPPER ${role} R)
  set(CPACK_DEBIAN_${R}_PACKAGE_NAME ${PACKAGE})
  set(CPACK_DEBIAN_${R}_PACKAGE_CONTROL_EXTRA
      "${dir}/conffiles;${dir}/postinst;${dir}/prerm;${dir}/postrm")
endforeach()

set(CPACK_GENERATOR DEB)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL edge central)
set(CPACK_PACKAGE_NAME millrace)
set(CPACK_PACKAGE_VERSION ${MILLRACE_PACKAGE_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_PACKAGE_DIRECTORY ${CMAKE_BINARY_DIR}/packages)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "Millrace developers <packages@millrace.invalid>")
set(CPACK_DEBIAN_PACKAGE_SECTION misc)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://millrace.invalid/")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_EDGE_PACKAGE_DEPENDS "adduser, tzdata")
set(CPACK_DEBIAN_CENTRAL_PACKAGE_DEPENDS "adduser, tzdata")
set(CPACK_DEBIAN_CENTRAL_PACKAGE_SUGGESTS "postgresql-15, pgbackrest, pgbouncer")
string(CONCAT CPACK_COMPONENT_EDGE_DESCRIPTION
       "Millrace factory edge: one site's MES on local SQLite\n"
       "mes-edge runs one factory's manufacturing execution system on local SQLite, so\n"
       "operators keep working with or without the WAN, and syncs both ways with\n"
       "mes-central over CurveZMQ. Includes mesctl (the terminal client) and mes-sim\n"
       "(a simulated shop floor).")
string(CONCAT CPACK_COMPONENT_CENTRAL_DESCRIPTION
       "Millrace central service over multi-tenant PostgreSQL\n"
       "mes-central receives every factory edge's changes into multi-tenant PostgreSQL,\n"
       "feeds master data and central edits back down, and serves cross-site reports,\n"
       "a dashboard, site backups, jobs and alerts.")
include(CPack)
