// Triad's extra PIMSimulator benchmark (our code, not PIMSimulator's): the GEMV
// shape the upstream PIMBenchFixture does not run. It reuses the upstream fixture
// and test-case classes unchanged (src/tests/PIMBenchTestCases.h), so it measures
// exactly as PIMBenchFixture.gemv does, for a 4096 x 1024 weight matrix
// (out_vec = 4096, in_vec = 1024, batch 1, fp16, dummy data). It asserts nothing;
// the cycle counts are read from its "> Cycle :" lines. Build: copy this file to
// PIMSimulator's src/tests/ and run scons (see tools/pimsim/README.md).

#include "gtest/gtest.h"
#include "tests/PIMBenchTestCases.h"

using namespace DRAMSim;

TEST_F(PIMBenchFixture, triad_gemv_4096x1024)
{
    setPIMBenchTestCase(KernelType::GEMV, 4096, 1024);  // (KernelType, out_vec, in_vec)
    executeKernel();                                    // w/o PIM
    executePIMKernel();                                 // w/ PIM
}
