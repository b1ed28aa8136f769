// Every op of the engine. Each op checks its inputs (wsvis::Error naming shapes, dtypes and
// devices), dispatches to kernels::cpu / kernels::cuda or cuDNN / cuBLAS, and records an
// autograd node when an input requires grad.
#pragma once

#include "engine/ops/conv.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/irn.h"
#include "engine/ops/irn_inference.h"
#include "engine/ops/linalg.h"
#include "engine/ops/loss.h"
#include "engine/ops/norm.h"
#include "engine/ops/pairwise.h"
#include "engine/ops/pool.h"
#include "engine/ops/reduce.h"
#include "engine/ops/roi_align.h"
#include "engine/ops/shape.h"
#include "engine/ops/types.h"
#include "engine/ops/upsample.h"
