// Checks shared by the edge's and central's migration tests.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "millrace/common/digest.h"
#include "millrace/common/migration.h"

namespace millrace::testing {

// Every released step (named in `released`, with the SHA-256 of its text) is still there
// and unchanged: a schema change is a new file, never an edit of a released one.
inline void ExpectReleasedStepsUnchanged(const std::vector<Migration>& steps,
                                         const std::map<std::string, std::string>& released) {
  for (const Migration& m : steps) {
    auto it = released.find(std::string(m.name));
    if (it == released.end()) continue;  // not released yet
    EXPECT_EQ(Sha256Hex(m.sql), it->second)
        << m.name << " was released and must not change: add a new migration instead";
  }
  for (const auto& [name, digest] : released) {
    bool found = false;
    for (const Migration& m : steps) found = found || m.name == name;
    EXPECT_TRUE(found) << "released migration " << name << " is gone";
  }
}

}  // namespace millrace::testing
