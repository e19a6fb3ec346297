#include "sweep/plan.h"
