#!/usr/bin/env cwl-runner
# An in-situ gauge's discharge: its water levels binned into daily means with short
# gaps filled (timeseries-resample), a rating curve fitted on the station's
# stage-discharge measurements and applied to the daily levels (rating-curve), then
# the anomalies and flood thresholds of that discharge (hydro-anomaly). Every step runs
# in the wasm sandbox.
cwlVersion: v1.2
class: Workflow
id: gauge-discharge
label: Gauge discharge from levels and a rating (resample, rating curve, anomalies)

inputs:
  rating:
    type: File
    doc: stage-discharge measurements (USGS RDB rating, or CSV stage,discharge)
  levels:
    type: File
    doc: water levels, CSV with time and a level column
  level_column:
    type: string
    default: stage
  bin_days:
    type: double
    default: 1
    doc: bin width of the resampled levels, days
  max_gap_bins:
    type: long
    default: 2
    doc: fill empty bins between known bins at most this many bins apart

outputs:
  daily_levels:
    type: File
    outputSource: resample/resampled
  fit:
    type: File
    outputSource: rate/fit
  discharge:
    type: File
    outputSource: rate/discharge
  anomalies:
    type: File
    outputSource: anomaly/anomalies
  thresholds:
    type: File
    outputSource: anomaly/thresholds

steps:
  resample:
    run: ../timeseries-resample/timeseries-resample.cwl
    in:
      series: levels
      value_column: level_column
      bin_days: bin_days
      max_gap_bins: max_gap_bins
    out: [resampled]
  rate:
    run: ../rating-curve/rating-curve.cwl
    in:
      pairs: rating
      levels: resample/resampled
      level_column:
        default: value
      time_column:
        default: bin_start
    out: [fit, discharge]
  anomaly:
    run: ../hydro-anomaly/hydro-anomaly.cwl
    in:
      series: rate/discharge
      value_column:
        default: discharge
    out: [anomalies, thresholds]
