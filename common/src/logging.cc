#include "millrace/common/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <nlohmann/json.hpp>

namespace millrace {
namespace {

thread_local std::vector<LogField> t_context;

std::string IsoTime(spdlog::log_clock::time_point tp) {
  using namespace std::chrono;
  auto ms = duration_cast<milliseconds>(tp.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::size_t n = std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof(buf) - n, ".%03dZ", static_cast<int>(ms % 1000));
  return buf;
}

// Formats one record as a JSON object; the message and context values are escaped.
class JsonFormatter final : public spdlog::formatter {
 public:
  explicit JsonFormatter(std::string program) : program_(std::move(program)) {}
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    nlohmann::json j;
    j["ts"] = IsoTime(msg.time);
    j["level"] = std::string(spdlog::level::to_string_view(msg.level).data(),
                             spdlog::level::to_string_view(msg.level).size());
    j["program"] = program_;
    j["msg"] = std::string(msg.payload.data(), msg.payload.size());
    for (const auto& [k, v] : t_context) j[k] = v;
    std::string line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    line.push_back('\n');
    dest.append(line.data(), line.data() + line.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>(program_);
  }

 private:
  std::string program_;
};

// Appends " key=value ..." for the thread's log context to human-readable lines.
class ContextFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg&, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    for (const auto& [k, v] : t_context) {
      dest.push_back(' ');
      dest.append(k.data(), k.data() + k.size());
      dest.push_back('=');
      dest.append(v.data(), v.data() + v.size());
    }
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<ContextFlag>();
  }
};

}  // namespace

Status InitLogging(LogOptions options) {
  if (const char* env = std::getenv("MILLRACE_LOG_LEVEL"); env && *env) options.level = env;
  if (const char* env = std::getenv("MILLRACE_LOG_FORMAT"); env && *env) options.format = env;

  auto level = spdlog::level::from_str(options.level);
  // from_str maps anything unknown to "off"; only accept it when asked for.
  if (level == spdlog::level::off && options.level != "off") {
    return Status::InvalidArgument("unknown log level '" + options.level +
                                   "' (trace, debug, info, warn, error, critical, off)");
  }
  if (options.format != "human" && options.format != "json") {
    return Status::InvalidArgument("unknown log format '" + options.format + "' (human, json)");
  }

  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  auto logger = std::make_shared<spdlog::logger>(options.program, sink);
  if (options.format == "json") {
    logger->set_formatter(std::make_unique<JsonFormatter>(options.program));
  } else {
    auto f = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
    f->add_flag<ContextFlag>('*').set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%-5l%$ %n: %v%*");
    logger->set_formatter(std::move(f));
  }
  logger->set_level(level);
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(logger);
  return Status::Ok();
}

ScopedLogContext::ScopedLogContext(std::vector<LogField> fields)
    : previous_size_(t_context.size()) {
  for (auto& f : fields) t_context.push_back(std::move(f));
}

ScopedLogContext::~ScopedLogContext() {
  t_context.resize(previous_size_);
}

const std::vector<LogField>& CurrentLogContext() {
  return t_context;
}

}  // namespace millrace
