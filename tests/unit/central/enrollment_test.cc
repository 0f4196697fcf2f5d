// Enrollment codes: their shape, that each is new, and that the kept hash ignores case and
// grouping but refuses what is not a code.
#include "millrace/central/enrollment.h"

#include <gtest/gtest.h>

#include <cctype>
#include <set>
#include <string>

namespace millrace::central {
namespace {

TEST(EnrollmentCodeTest, CodesAreFreshFourGroupsOfCrockfordBase32) {
  std::set<std::string> seen;
  // Four groups of eight, of 0-9 and A-Z without I, L, O, U.
  const auto shaped = [](const std::string& code) {
    if (code.size() != 35) return false;
    for (std::size_t i = 0; i < code.size(); ++i) {
      const char c = code[i];
      if (i % 9 == 8) {
        if (c != '-') return false;
      } else if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z')) || c == 'I' || c == 'L' || c == 'O' || c == 'U') {
        return false;
      }
    }
    return true;
  };
  for (int i = 0; i < 200; ++i) {
    const std::string code = NewEnrollmentCode();
    EXPECT_TRUE(shaped(code)) << code;
    EXPECT_TRUE(seen.insert(code).second) << "a code came twice: " << code;
  }
}

TEST(EnrollmentCodeTest, TheHashIgnoresCaseAndGroupingAndRefusesWhatIsNoCode) {
  const std::string code = NewEnrollmentCode();
  auto kept = EnrollmentCodeHash(code);
  ASSERT_TRUE(kept.ok()) << kept.status().ToString();
  EXPECT_EQ(kept->size(), 64u);
  std::string typed;
  for (char c : code)
    if (c != '-') typed += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  EXPECT_EQ(*EnrollmentCodeHash(typed), *kept);
  EXPECT_NE(*EnrollmentCodeHash(NewEnrollmentCode()), *kept);
  for (const char* bad : {"", "ABC", "OOOOOOOO-00000000-00000000-00000000",  // O is not base32
                          "00000000-00000000-00000000-000000000", "0000000!-00000000-00000000-00000000"}) {
    auto h = EnrollmentCodeHash(bad);
    EXPECT_EQ(h.status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace millrace::central
