#!/usr/bin/env cwl-runner
# Water surface elevation time series at virtual stations: virtual-station-wse on every
# PIXC tile given (one sandboxed run per tile, in parallel), then the rows of all the
# tiles gathered into one table ordered by station and time.
cwlVersion: v1.2
class: Workflow
id: virtual-stations
label: Virtual-station water levels over PIXC tiles
requirements:
  ScatterFeatureRequirement: {}
  InlineJavascriptRequirement: {}

inputs:
  tiles:
    type: File[]
    doc: SWOT L2 HR PIXC tiles (SWOT_L2_HR_PIXC_*.nc)
  stations:
    type: File
    doc: GeoJSON FeatureCollection of station polygons
  classes:
    type: string
    default: "3,4"

outputs:
  per_tile:
    type: File[]
    outputSource: estimate/csv
  series:
    type: File
    outputSource: gather/series
    doc: every station's rows over the tiles, ordered by station and time

steps:
  estimate:
    run: ../virtual-station-wse/virtual-station-wse.cwl
    scatter: pixc
    in:
      pixc: tiles
      stations: stations
      classes: classes
    out: [csv]
  gather:
    in:
      tables:
        source: estimate/csv
        loadContents: true
    out: [series]
    run:
      class: ExpressionTool
      inputs:
        tables: File[]
      outputs:
        series: File
      expression: |
        ${
          // The plugin writes one header line, then one row per station; the station
          // identifiers and file names hold no comma (quoted otherwise), times are RFC 3339.
          var header = null, rows = [];
          for (var i = 0; i < inputs.tables.length; i++) {
            var lines = inputs.tables[i].contents.split("\n").filter(function (l) { return l !== ""; });
            if (lines.length === 0) { continue; }
            if (header !== null && lines[0] !== header) {
              throw "tile " + (i + 1) + ": its table's columns differ from the first tile's";
            }
            header = lines[0];
            rows = rows.concat(lines.slice(1));
          }
          var key = function (row) { var c = row.split(","); return [c[0], c[2]]; };
          rows.sort(function (a, b) {
            var x = key(a), y = key(b);
            return x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : x[1] < y[1] ? -1 : x[1] > y[1] ? 1 : 0;
          });
          return { series: { class: "File", basename: "stations.csv", contents: [header].concat(rows).join("\n") + "\n" } };
        }
