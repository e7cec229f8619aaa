#include <criterion/criterion.h>
#include "q8/q8.h"
#include "support.h"
