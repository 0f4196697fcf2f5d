#include "millrace/common/config.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <toml.hpp>

namespace millrace {

struct ConfigFile::Impl {
  toml::value root;
};

ConfigFile::ConfigFile(std::string name, std::unique_ptr<Impl> impl)
    : name_(std::move(name)), impl_(std::move(impl)) {}
ConfigFile::~ConfigFile() = default;
ConfigFile::ConfigFile(ConfigFile&&) noexcept = default;
ConfigFile& ConfigFile::operator=(ConfigFile&&) noexcept = default;

Result<ConfigFile> ConfigFile::Load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("config file " + path + " cannot be opened");
  std::stringstream buf;
  buf << in.rdbuf();
  return Parse(buf.str(), path);
}

Result<ConfigFile> ConfigFile::Parse(std::string_view toml_text, const std::string& name) {
  // toml11 reports syntax errors as exceptions; this adapter turns them into a Status.
  try {
    std::istringstream in{std::string(toml_text)};
    auto impl = std::make_unique<Impl>();
    impl->root = toml::parse(in, name);
    return ConfigFile(name, std::move(impl));
  } catch (const std::exception& e) {
    return Status::InvalidArgument("config " + name + ": TOML syntax error: " + e.what());
  }
}

namespace {

const toml::value* Find(const toml::value& root, std::string_view key) {
  const toml::value* node = &root;
  std::size_t start = 0;
  while (start <= key.size()) {
    std::size_t dot = key.find('.', start);
    std::string part(key.substr(start, dot == std::string_view::npos ? key.npos : dot - start));
    if (!node->is_table()) return nullptr;
    const auto& table = node->as_table();
    auto it = table.find(part);
    if (it == table.end()) return nullptr;
    node = &it->second;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return node;
}

std::string Describe(const toml::value& v) {
  std::ostringstream out;
  if (v.is_string()) {
    out << '"' << v.as_string().str << '"';
  } else if (v.is_table()) {
    out << "a table";
  } else if (v.is_array()) {
    out << "an array";
  } else {
    out << v;
  }
  return out.str();
}

void CollectLeaves(const toml::value& node, const std::string& prefix,
                   std::vector<std::string>* out) {
  if (!node.is_table()) {
    out->push_back(prefix);
    return;
  }
  for (const auto& [k, v] : node.as_table()) {
    CollectLeaves(v, prefix.empty() ? k : prefix + "." + k, out);
  }
}

std::string NumberText(double d) {
  std::ostringstream out;
  out << d;
  return out.str();
}

}  // namespace

std::string TomlQuote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

void ConfigFile::Record(ConfigKeyRead r) {
  read_.emplace(r.key);
  for (const auto& seen : reads_)
    if (seen.key == r.key) return;
  reads_.push_back(std::move(r));
}

bool ConfigFile::Has(std::string_view key) const {
  return Find(impl_->root, key) != nullptr;
}

std::vector<std::string> ConfigFile::Keys(std::string_view key) const {
  std::vector<std::string> out;
  const toml::value* v = Find(impl_->root, key);
  if (v && v->is_table())
    for (const auto& [k, value] : v->as_table()) out.push_back(k);
  std::sort(out.begin(), out.end());
  return out;
}

Status ConfigFile::Invalid(std::string_view key, std::string_view why) const {
  return Status::InvalidArgument("config " + name_ + ": key '" + std::string(key) +
                                 "': " + std::string(why));
}

Result<std::string> ConfigFile::GetString(std::string_view key,
                                          std::optional<std::string> fallback) {
  Record({std::string(key), "string", fallback ? TomlQuote(*fallback) : "", !fallback, ""});
  const toml::value* v = Find(impl_->root, key);
  if (!v) {
    if (fallback) return *fallback;
    return Invalid(key, "is required (a string)");
  }
  if (!v->is_string()) return Invalid(key, "expected a string, got " + Describe(*v));
  return v->as_string().str;
}

Result<std::int64_t> ConfigFile::GetInt(std::string_view key, std::optional<std::int64_t> fallback,
                                        std::int64_t min, std::int64_t max) {
  Record({std::string(key), "integer", fallback ? std::to_string(*fallback) : "", !fallback,
          std::to_string(min) + ".." + std::to_string(max)});
  const toml::value* v = Find(impl_->root, key);
  if (!v) {
    if (fallback) return *fallback;
    return Invalid(key, "is required (an integer)");
  }
  std::string range = " in " + std::to_string(min) + ".." + std::to_string(max);
  if (!v->is_integer())
    return Invalid(key, "expected an integer" + range + ", got " + Describe(*v));
  std::int64_t n = v->as_integer();
  if (n < min || n > max)
    return Invalid(key, "expected an integer" + range + ", got " + Describe(*v));
  return n;
}

Result<double> ConfigFile::GetDouble(std::string_view key, std::optional<double> fallback) {
  Record({std::string(key), "number", fallback ? NumberText(*fallback) : "", !fallback, ""});
  const toml::value* v = Find(impl_->root, key);
  if (!v) {
    if (fallback) return *fallback;
    return Invalid(key, "is required (a number)");
  }
  if (v->is_integer()) return static_cast<double>(v->as_integer());
  if (!v->is_floating()) return Invalid(key, "expected a number, got " + Describe(*v));
  return v->as_floating();
}

Result<bool> ConfigFile::GetBool(std::string_view key, std::optional<bool> fallback) {
  Record({std::string(key), "boolean", fallback ? (*fallback ? "true" : "false") : "", !fallback,
          ""});
  const toml::value* v = Find(impl_->root, key);
  if (!v) {
    if (fallback) return *fallback;
    return Invalid(key, "is required (true or false)");
  }
  if (!v->is_boolean()) return Invalid(key, "expected true or false, got " + Describe(*v));
  return v->as_boolean();
}

Result<std::vector<std::string>> ConfigFile::GetStringList(
    std::string_view key, std::optional<std::vector<std::string>> fallback) {
  std::string listed;
  if (fallback) {
    for (const auto& item : *fallback) listed += (listed.empty() ? "" : ", ") + TomlQuote(item);
    listed = "[" + listed + "]";
  }
  Record({std::string(key), "list of strings", listed, !fallback, ""});
  const toml::value* v = Find(impl_->root, key);
  if (!v) {
    if (fallback) return *fallback;
    return Invalid(key, "is required (a list of strings)");
  }
  if (!v->is_array()) return Invalid(key, "expected a list of strings, got " + Describe(*v));
  std::vector<std::string> out;
  for (const auto& item : v->as_array()) {
    if (!item.is_string()) {
      return Invalid(key, "expected a list of strings, found the element " + Describe(item));
    }
    out.push_back(item.as_string().str);
  }
  return out;
}

Result<std::string> ConfigFile::GetEnum(std::string_view key,
                                        const std::vector<std::string>& allowed,
                                        std::optional<std::string> fallback) {
  std::string list;
  for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
  Record({std::string(key), "string", fallback ? TomlQuote(*fallback) : "", !fallback, list});
  MILLRACE_ASSIGN_OR_RETURN(std::string value, GetString(key, std::move(fallback)));
  for (const auto& a : allowed) {
    if (a == value) return value;
  }
  return Invalid(key, "expected one of " + list + ", got \"" + value + "\"");
}

Status ConfigFile::Finish() const {
  std::vector<std::string> leaves;
  CollectLeaves(impl_->root, "", &leaves);
  std::string unknown;
  for (const auto& key : leaves) {
    if (read_.count(key) == 0) unknown += (unknown.empty() ? "'" : ", '") + key + "'";
  }
  if (unknown.empty()) return Status::Ok();
  return Status::InvalidArgument("config " + name_ + ": unknown key(s) " + unknown);
}

}  // namespace millrace
