// The kinds of job mes-central runs (job_runner.h) and the periodic ones it schedules:
//
//   partition_maintenance (platform)  the site fact tables' monthly partitions, ahead of time
//   rollup_rebuild (tenant)           a site's report rollups recomputed from its raw facts
//                                     over a range, a day at a time, with progress
#pragma once

#include <vector>

#include "millrace/central/job_runner.h"

namespace millrace::central {

JobKinds CentralJobKinds();
std::vector<JobSchedule> CentralJobSchedules();

}  // namespace millrace::central
