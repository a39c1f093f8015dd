// Stand-in for the header a CUDA build of LibTorch generates; used only to compile-check
// dist/nccl_communicator.cpp against a CPU-only LibTorch (nothing is linked).
#pragma once
#define C10_CUDA_BUILD_SHARED_LIBS
