// CNVML is declarations only; SwiftPM needs one source file to build the module.
#include "cnvml.h"
