#include "q8/sparse.h"
