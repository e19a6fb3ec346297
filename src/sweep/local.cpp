#include "sweep/local.h"
