#include "sweep/trial.h"
