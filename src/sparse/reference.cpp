// placeholder: being written
#include "sparse/gemm.hpp"
