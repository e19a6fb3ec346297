#include "sweep/robustness.h"
