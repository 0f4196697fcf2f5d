// The main() of a test binary that drives real daemons (SyncCluster):
// `PROGRAM MES_CENTRAL MES_EDGE [MESCTL] [gtest flags]`.
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "sync_cluster.h"

namespace millrace::testing {

// Fills `bins` (and `mesctl`, which is then required) from the command line and runs the
// tests; 2 with a usage line when a binary is missing.
inline int RunProcessTests(int argc, char** argv, ClusterBinaries* bins,
                           std::string* mesctl = nullptr) {
  ::testing::InitGoogleTest(&argc, argv);
  const int needed = mesctl ? 4 : 3;
  if (argc < needed) {
    std::fprintf(stderr, "usage: %s MES_CENTRAL MES_EDGE%s [gtest flags]\n", argv[0],
                 mesctl ? " MESCTL" : "");
    return 2;
  }
  *bins = {argv[1], argv[2]};
  if (mesctl) *mesctl = argv[3];
  return RUN_ALL_TESTS();
}

}  // namespace millrace::testing
