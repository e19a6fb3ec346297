// api: tapedeck's REST resources — datasets, backtests (runs), their trades, equity and frames,
// strategies, sweeps — the worker pool that executes backtests and sweeps, and the runs playback
// plays (the store's and synthetic ones). It joins store, engine, strategies and playback;
// src/server only moves the bytes. The module's public header: one header per concept, all included
// here.
//
//   options.h           api::Options, what the command line tells the api
//   service.h           api::Service, everything `tapedeck serve` runs behind the server
//   resources.h         api::Resources, the REST routes over the store
//   queue_metrics.h     api::MeteredJobQueue, /metrics of the database and the job queue
//   runner.h            api::Runner, the worker pool
//   sweeps.h            api::SweepResources, the /sweeps routes
//   sweep_job.h         api::SweepJob, a sweep being executed on the pool
//   sweep_json.h        POST /sweeps' body and the sweep and trial objects
//   store_run_source.h  api::StoreRunSource, playback's view of the store
//   synthetic_runs.h    api::SyntheticRun, generated runs for tests and demos
#pragma once

#include "api/options.h"
#include "api/queue_metrics.h"
#include "api/resources.h"
#include "api/runner.h"
#include "api/service.h"
#include "api/store_run_source.h"
#include "api/sweep_job.h"
#include "api/sweep_json.h"
#include "api/sweeps.h"
#include "api/synthetic_runs.h"
