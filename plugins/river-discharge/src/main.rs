//! `river-discharge`: the plugin's entry point; the work is in the library.

use hysope_river_discharge::{FlowLaw, Observation, consensus, discharge};
use hysope_sdk::{Algorithm, DataError, Input, Output};

fn algorithm() -> Algorithm {
    Algorithm::new("river-discharge", env!("CARGO_PKG_VERSION"))
        .label("River discharge from SWOT reach observations")
        .description(
            "Manning-type discharge Q = (1/n) (A0 + dA)^(5/3) W^(-2/3) S^(1/2) of a reach at each \
             observation (CSV with time, wse, width, slope, optionally d_area and the uncertainties \
             wse_u, width_u, slope_u): constant n, MetroMan n = n_inf ((A0+dA)/W)^p, HiVDI 1/n = \
             alpha ((A0+dA)/W)^beta, MOMMA on the depth wse - B with n = nb (1 + log10((H-B)/(wse-B))) \
             below bankfull and nb = 0.11 Save^0.18, and the consensus (median of the algorithms given parameters), \
             with first-order uncertainties. dA is integrated from the heights and widths when the \
             series has no d_area column. Rows with unknown inputs, a negative slope or A0 + dA <= 0 \
             get a status and empty values.",
        )
        .input(Input::file("series").doc("CSV with time, wse, width, slope (m, m, m/m); d_area, wse_u, width_u, slope_u optional"))
        .input(Input::double("a0").optional().doc("unobserved flow area A0 at the dA reference, m2 (needed by Manning, MetroMan, HiVDI)"))
        .input(Input::double("n").optional().doc("constant Manning n (s m^-1/3)"))
        .input(Input::double("n_inf").optional().doc("MetroMan n_inf"))
        .input(Input::double("p").optional().doc("MetroMan exponent p"))
        .input(Input::double("alpha").optional().doc("HiVDI alpha"))
        .input(Input::double("beta").optional().doc("HiVDI beta"))
        .input(Input::double("momma_b").optional().doc("MOMMA elevation of zero flow B, m"))
        .input(Input::double("momma_h").optional().doc("MOMMA bankfull elevation H, m"))
        .input(Input::double("momma_save").optional().doc("MOMMA mean reach slope Save, m/m"))
        .output(Output::file("discharge").glob("discharge.csv").doc("time, Q and sigma_Q per algorithm, consensus, status (m3/s)"))
        .output(Output::file("summary").glob("summary.json").doc("algorithms, rows per status"))
}

fn main() {
    hysope_sdk::run(&algorithm(), |args| {
        let path = args.file("series")?;
        let (name, text) = hysope_sdk::read_input_text(path)?;
        let table = hysope_swot::csv::parse(&text, &name).map_err(DataError)?;
        let a0 = args.opt_double("a0");
        let mut laws = Vec::new();
        if let Some(n) = args.opt_double("n") {
            laws.push(FlowLaw::Manning { n });
        }
        match (args.opt_double("n_inf"), args.opt_double("p")) {
            (Some(n_inf), Some(p)) => laws.push(FlowLaw::MetroMan { n_inf, p }),
            (None, None) => {}
            _ => return Err(DataError("MetroMan needs both --n-inf and --p".into()).into()),
        }
        match (args.opt_double("alpha"), args.opt_double("beta")) {
            (Some(alpha), Some(beta)) => laws.push(FlowLaw::HiVdi { alpha, beta }),
            (None, None) => {}
            _ => return Err(DataError("HiVDI needs both --alpha and --beta".into()).into()),
        }
        match (
            args.opt_double("momma_b"),
            args.opt_double("momma_h"),
            args.opt_double("momma_save"),
        ) {
            (Some(b), Some(h), Some(save)) => laws.push(FlowLaw::Momma { b, h, save }),
            (None, None, None) => {}
            _ => {
                return Err(
                    DataError("MOMMA needs --momma-b, --momma-h and --momma-save".into()).into(),
                );
            }
        }
        if laws.is_empty() {
            return Err(DataError(
                "no flow law: give --n, or --n-inf and --p, or --alpha and --beta, or --momma-b, --momma-h and --momma-save".into(),
            )
            .into());
        }
        let area_based = laws.iter().any(|l| !matches!(l, FlowLaw::Momma { .. }));
        let a0 = match a0 {
            Some(a0) => a0,
            None if area_based => {
                return Err(
                    DataError("--a0 is needed by Manning, MetroMan and HiVDI".into()).into(),
                );
            }
            None => f64::NAN,
        };
        let bad_parameter = laws.iter().any(|l| match *l {
            FlowLaw::Manning { n } => !(n > 0.0 && n.is_finite()),
            FlowLaw::MetroMan { n_inf, p } => !(n_inf > 0.0 && n_inf.is_finite() && p.is_finite()),
            FlowLaw::HiVdi { alpha, beta } => {
                !(alpha > 0.0 && alpha.is_finite() && beta.is_finite())
            }
            FlowLaw::Momma { b, h, save } => {
                !(b.is_finite() && h.is_finite() && h > b && save > 0.0 && save.is_finite())
            }
        });
        if bad_parameter || (area_based && !a0.is_finite()) {
            return Err(DataError(
                "n, n_inf, alpha and momma_save must be positive numbers; a0, p, beta and momma_b numbers; momma_h above momma_b".into(),
            )
            .into());
        }
        let col = |c: &str| table.column(c, &name).map_err(DataError);
        let (t, h, w, s) = (col("time")?, col("wse")?, col("width")?, col("slope")?);
        let optional = |c: &str| table.columns.iter().position(|x| x == c);
        let (da_col, hu, wu, su) = (
            optional("d_area"),
            optional("wse_u"),
            optional("width_u"),
            optional("slope_u"),
        );
        let num = |row: usize, c: Option<usize>| -> Result<Option<f64>, DataError> {
            c.map_or(Ok(None), |c| table.number(row, c, &name).map_err(DataError))
        };
        let rows = table.rows.len();
        let mut heights = Vec::with_capacity(rows);
        for r in 0..rows {
            heights.push((num(r, Some(h))?, num(r, Some(w))?));
        }
        // dA from the file, or integrated from the heights and widths (median reference).
        let d_area: Vec<Option<f64>> = match da_col {
            Some(_) => (0..rows)
                .map(|r| num(r, da_col))
                .collect::<Result<_, _>>()?,
            None => hysope_river_area_change::area_change(
                &heights,
                hysope_river_area_change::Reference::Median,
            )
            .map(|r| r.d_area)
            .unwrap_or_else(|_| vec![None; rows]),
        };
        // A reach_id column comes through, so that a table says which reach it is.
        let id = optional("reach_id");
        let mut out = String::from(if id.is_some() {
            "reach_id,time"
        } else {
            "time"
        });
        for l in &laws {
            out.push_str(&format!(",q_{0},q_{0}_u", l.name()));
        }
        out.push_str(",q_consensus,status\n");
        let mut statuses = std::collections::BTreeMap::<String, usize>::new();
        let cell = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
        for r in 0..rows {
            let inputs = (heights[r].1, num(r, Some(s))?);
            let mut line = match id {
                Some(c) => format!("{},", hysope_swot::csv::cell(&table.rows[r][c])),
                None => String::new(),
            };
            line.push_str(&hysope_swot::csv::cell(&table.rows[r][t]));
            let (status, values): (String, Vec<Option<(f64, f64)>>) = match inputs {
                (Some(width), Some(slope)) => {
                    let o = Observation {
                        d_area: d_area[r].unwrap_or(f64::NAN),
                        wse: heights[r].0.unwrap_or(f64::NAN),
                        width,
                        slope,
                        wse_u: num(r, hu)?.unwrap_or(0.0),
                        width_u: num(r, wu)?.unwrap_or(0.0),
                        slope_u: num(r, su)?.unwrap_or(0.0),
                    };
                    let results: Vec<_> = laws.iter().map(|l| discharge(&o, a0, l)).collect();
                    let status = results
                        .iter()
                        .find_map(|r| r.err())
                        .unwrap_or("computed")
                        .to_string();
                    (
                        status,
                        results
                            .into_iter()
                            .map(|r| r.ok().map(|d| (d.q, d.q_u)))
                            .collect(),
                    )
                }
                _ => ("unknown input".to_string(), vec![None; laws.len()]),
            };
            for v in &values {
                line.push_str(&format!(
                    ",{},{}",
                    cell(v.map(|x| x.0)),
                    cell(v.map(|x| x.1))
                ));
            }
            let qs: Vec<f64> = values.iter().flatten().map(|x| x.0).collect();
            line.push_str(&format!(
                ",{},{}\n",
                cell(consensus(&qs)),
                hysope_swot::csv::cell(&status)
            ));
            out.push_str(&line);
            *statuses.entry(status).or_default() += 1;
        }
        hysope_sdk::write_output("discharge.csv", out)?;
        hysope_sdk::write_output(
            "summary.json",
            serde_json::to_vec_pretty(&serde_json::json!({
                "algorithms": laws.iter().map(FlowLaw::name).collect::<Vec<_>>(),
                "a0_m2": if a0.is_finite() { serde_json::json!(a0) } else { serde_json::Value::Null },
                "rows": rows,
                "status": statuses,
                "d_area": if da_col.is_some() { "from the series" } else { "integrated from wse and width (median reference)" },
                "units": {"q": "m3/s", "a": "m2", "width": "m", "slope": "m/m"},
            }))?,
        )?;
        Ok(())
    })
}
