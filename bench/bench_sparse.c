#include "q8/q8.h"
int main(void) { return 0; }
