#include "millrace/common/config_reference.h"

#include <map>
#include <set>

namespace millrace {

Result<std::string> ConfigReference(std::string_view heading, std::string_view intro,
                                    const std::vector<ConfigKeyRead>& reads,
                                    const std::vector<std::span<const ConfigKeyDoc>>& docs) {
  std::map<std::string_view, const ConfigKeyDoc*> by_key;
  for (const auto& table : docs)
    for (const auto& d : table) by_key.emplace(d.key, &d);
  std::string undocumented, unread;
  std::set<std::string_view> read_keys;
  for (const auto& r : reads) {
    read_keys.insert(r.key);
    if (!by_key.count(r.key)) undocumented += (undocumented.empty() ? "" : ", ") + r.key;
  }
  for (const auto& [key, d] : by_key)
    if (!read_keys.count(key)) unread += (unread.empty() ? "" : ", ") + std::string(key);
  if (!undocumented.empty() || !unread.empty()) {
    std::string why;
    if (!undocumented.empty()) why += "keys read but not described: " + undocumented;
    if (!unread.empty()) why += std::string(why.empty() ? "" : "; ") + "keys described but never read: " + unread;
    return Status::InvalidArgument(std::string(heading) + ": " + why);
  }

  std::string out = "## " + std::string(heading) + "\n\n" + std::string(intro) + "\n";
  std::string section;
  for (const auto& r : reads) {
    const std::string table = r.key.substr(0, r.key.rfind('.'));
    if (table != section) {
      section = table;
      out += "\n### [" + section + "]\n\n";
    }
    const ConfigKeyDoc& d = *by_key.at(r.key);
    std::string what = r.type;
    if (!r.allowed.empty())
      what += r.type == "integer" ? " " + r.allowed : " (one of " + r.allowed + ")";
    if (r.required) {
      what += ", **required**";
    } else if (!d.default_text.empty()) {
      what += ", default " + std::string(d.default_text);
    } else {
      what += ", default `" + r.fallback + "`";
    }
    out += "- `" + r.key.substr(r.key.rfind('.') + 1) + "`: " + what + ". " + std::string(d.doc) +
           "\n";
  }
  return out;
}

}  // namespace millrace
