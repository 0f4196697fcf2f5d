// The boxes of enrollment: what one key pair boxes for another opens only with the right
// pair, and a changed box or one opened as from another sender is refused.
#include "millrace/sync/enrollment_box.h"

#include <gtest/gtest.h>

#include "millrace/sync/transport.h"

namespace millrace::sync {
namespace {

TEST(EnrollmentBoxTest, OnlyTheRecipientOpensWhatTheSenderBoxed) {
  auto edge = GenerateCurveKeyPair();
  auto central = GenerateCurveKeyPair();
  auto other = GenerateCurveKeyPair();
  ASSERT_TRUE(edge.ok() && central.ok() && other.ok());
  auto box = BoxFor("7KQ2M9XD-00000000-00000000-00000000", central->public_key, edge->secret_key);
  ASSERT_TRUE(box.ok()) << box.status().ToString();
  EXPECT_EQ(box->nonce_hex.size(), 48u);
  auto opened = OpenBox(*box, edge->public_key, central->secret_key);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ(*opened, "7KQ2M9XD-00000000-00000000-00000000");
  // Not the recipient, or not the sender it claims: refused.
  EXPECT_EQ(OpenBox(*box, edge->public_key, other->secret_key).status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(OpenBox(*box, other->public_key, central->secret_key).status().code(), StatusCode::kPermissionDenied);
  // Changed on the way: refused.
  SealedBox changed = *box;
  changed.box_hex[0] = changed.box_hex[0] == '0' ? '1' : '0';
  EXPECT_EQ(OpenBox(changed, edge->public_key, central->secret_key).status().code(), StatusCode::kPermissionDenied);
  // Not a box's shape, or not a key: named.
  EXPECT_EQ(OpenBox({"zz", "00"}, edge->public_key, central->secret_key).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(BoxFor("x", "not a key", edge->secret_key).status().code(), StatusCode::kInvalidArgument);
  // Two boxes of one message differ (a fresh nonce each).
  EXPECT_NE(BoxFor("x", central->public_key, edge->secret_key)->box_hex,
            BoxFor("x", central->public_key, edge->secret_key)->box_hex);
}

}  // namespace
}  // namespace millrace::sync
