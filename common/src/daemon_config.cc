#include "millrace/common/daemon_config.h"

#include <spdlog/spdlog.h>

#include "millrace/common/config_reference.h"
#include "millrace/common/files.h"
#include "millrace/common/signals.h"

namespace millrace {

namespace {

const ConfigKeyDoc kDaemonSectionDocs[] = {
    {"http.listen", "The address HTTP binds: \"127.0.0.1\" for this machine only, \"0.0.0.0\" "
                    "for every interface (the plant LAN's terminals, managers' browsers)."},
    {"http.port", "The HTTP port; 0 lets the kernel choose (the daemon's `--port-file` says "
                  "which)."},
    {"http.threads", "Threads serving HTTP."},
    {"http.body_limit_bytes", "The largest request body taken, in bytes; a larger one is "
                              "refused."},
    {"http.read_timeout_ms", "A request must arrive whole within this many milliseconds."},
    {"http.tls_cert_file", "HTTPS: the certificate chain (PEM). Give both it and tls_key_file, "
                           "or neither (plain HTTP). Relative to this file's directory."},
    {"http.tls_key_file", "HTTPS: the certificate's private key (PEM), readable by the daemon "
                          "only. Relative to this file's directory."},
    {"log.level", "The least severe log line written."},
    {"log.format", "human: one readable line per event; json: one JSON object per line, with "
                   "tenant, site and batch ids as fields."},
};

}  // namespace

std::span<const ConfigKeyDoc> DaemonSectionDocs() { return kDaemonSectionDocs; }

Status ReadHttpSection(ConfigFile& file, HttpServerOptions* o) {
  MILLRACE_ASSIGN_OR_RETURN(o->address, file.GetString("http.listen", o->address));
  MILLRACE_ASSIGN_OR_RETURN(auto port, file.GetInt("http.port", o->port, 0, 65535));
  o->port = static_cast<std::uint16_t>(port);
  MILLRACE_ASSIGN_OR_RETURN(auto threads, file.GetInt("http.threads", o->threads, 1, 64));
  o->threads = static_cast<int>(threads);
  MILLRACE_ASSIGN_OR_RETURN(auto limit, file.GetInt("http.body_limit_bytes",
                                                    static_cast<std::int64_t>(o->body_limit_bytes),
                                                    1024, std::int64_t{1} << 30));
  o->body_limit_bytes = static_cast<std::size_t>(limit);
  MILLRACE_ASSIGN_OR_RETURN(
      auto read_ms, file.GetInt("http.read_timeout_ms", o->read_timeout.count(), 10, 3600000));
  o->read_timeout = std::chrono::milliseconds(read_ms);
  // HTTPS: both files or neither; relative paths are relative to the config file.
  MILLRACE_ASSIGN_OR_RETURN(o->tls_cert_file, file.GetString("http.tls_cert_file", ""));
  MILLRACE_ASSIGN_OR_RETURN(o->tls_key_file, file.GetString("http.tls_key_file", ""));
  if (o->tls_cert_file.empty() != o->tls_key_file.empty())
    return file.Invalid(o->tls_cert_file.empty() ? "http.tls_cert_file" : "http.tls_key_file",
                        "HTTPS needs both tls_cert_file and tls_key_file");
  for (std::string* f : {&o->tls_cert_file, &o->tls_key_file})
    if (!f->empty() && (*f)[0] != '/' && file.name().find('/') != std::string::npos)
      *f = file.name().substr(0, file.name().rfind('/')) + "/" + *f;
  return Status::Ok();
}

Status ReadLogSection(ConfigFile& file, LogOptions* o) {
  MILLRACE_ASSIGN_OR_RETURN(
      o->level,
      file.GetEnum("log.level", {"trace", "debug", "info", "warn", "error", "critical", "off"},
                   o->level));
  MILLRACE_ASSIGN_OR_RETURN(o->format, file.GetEnum("log.format", {"human", "json"}, o->format));
  return Status::Ok();
}

Status ServeUntilShutdownSignal(const HttpServerOptions& options, const Router& router,
                                const std::string& port_file, const std::string& what) {
  HttpServer server(options, &router);
  MILLRACE_RETURN_IF_ERROR(server.Start());
  if (!port_file.empty()) {
    MILLRACE_RETURN_IF_ERROR(WriteFileAtomically(port_file, std::to_string(server.port()) + "\n"));
  }
  spdlog::info("{} serving on {}", what, server.url());
  int sig = WaitForShutdownSignal();
  spdlog::info("signal {} received, shutting down", sig);
  server.Stop();
  spdlog::info("stopped cleanly");
  return Status::Ok();
}

}  // namespace millrace
