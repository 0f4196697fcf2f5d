# Every dependency comes from Debian packages (installers/deps.sh installs them).

find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(SQLite3 REQUIRED)
find_package(ZLIB REQUIRED)
find_package(PostgreSQL REQUIRED)
find_package(OpenSSL REQUIRED)                # HTTPS on the daemons (Beast over OpenSSL)
find_package(Protobuf REQUIRED)
find_package(Boost 1.74 REQUIRED)            # header-only Asio and Beast
find_package(spdlog REQUIRED)
find_package(fmt REQUIRED)
find_package(GTest REQUIRED)
find_package(CLI11 REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)
find_package(toml11 REQUIRED)
find_package(cppzmq REQUIRED)
pkg_check_modules(SODIUM REQUIRED IMPORTED_TARGET libsodium)
# Civil time in a site's IANA time zone (Google's CCTZ over the system's zoneinfo).
find_path(CCTZ_INCLUDE_DIR cctz/time_zone.h REQUIRED)
find_library(CCTZ_LIBRARY cctz REQUIRED)
add_library(cctz::cctz UNKNOWN IMPORTED)
set_target_properties(cctz::cctz PROPERTIES IMPORTED_LOCATION ${CCTZ_LIBRARY}
                      INTERFACE_INCLUDE_DIRECTORIES ${CCTZ_INCLUDE_DIR})
