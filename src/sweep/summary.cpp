#include "sweep/summary.h"
