#include "q8/prune.h"
