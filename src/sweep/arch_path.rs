//! Setting one arch field, named by its dotted TOML path (`npu.rows`,
//! `dram.channels`, `cpu.clusters.0.cores`), inside an arch held as a
//! `toml::Value`. The arch loader then reads the changed value, so an unknown field
//! or a bad value gets the loader's own typed error.

use anyhow::bail;
use toml::Value;

/// Sets `path` in `root` to `value`. Missing tables on the way are created (an arch
/// without an NPU can be given one field by field; the loader then asks for the rest);
/// a number segment indexes an array and must exist. An integer replacing a float
/// becomes a float, so `freq_ghz = [1, 2]` means 1.0 and 2.0.
pub fn set(root: &mut Value, path: &str, value: &Value) -> anyhow::Result<()> {
    let segments: Vec<&str> = path.split('.').collect();
    if segments.iter().any(|s| s.is_empty()) {
        bail!("`{path}` is not a dotted field path");
    }
    let (last, parents) = segments.split_last().unwrap_or((&"", &[]));
    let mut here = root;
    for (i, seg) in parents.iter().enumerate() {
        let at = segments[..=i].join(".");
        here = match here {
            Value::Table(t) => t
                .entry(seg.to_string())
                .or_insert_with(|| Value::Table(toml::Table::new())),
            Value::Array(a) => index(a, seg, &at)?,
            other => bail!("`{at}` is of type {}, not a table", other.type_str()),
        };
    }
    let slot = match here {
        Value::Table(t) => t.entry(last.to_string()).or_insert_with(|| value.clone()),
        Value::Array(a) => index(a, last, path)?,
        other => bail!(
            "`{}` is of type {}, not a table",
            parents.join("."),
            other.type_str()
        ),
    };
    *slot = match (&*slot, value) {
        (Value::Float(_), Value::Integer(n)) => Value::Float(*n as f64),
        _ => value.clone(),
    };
    Ok(())
}

/// The element `seg` (a decimal index) of array `a`; `at` names it in errors.
fn index<'a>(a: &'a mut [Value], seg: &str, at: &str) -> anyhow::Result<&'a mut Value> {
    let len = a.len();
    match seg.parse::<usize>() {
        Ok(i) if i < len => Ok(&mut a[i]),
        Ok(i) => bail!("`{at}`: index {i} is past the end of a list of {len}"),
        Err(_) => bail!("`{at}`: `{seg}` indexes a list, so it must be a number"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str) -> Value {
        Value::Table(toml::from_str(text).unwrap())
    }

    #[test]
    fn sets_nested_fields_indices_and_new_tables() {
        let mut v = value("[npu]\nrows = 16\nfreq = 1.5\n[[cpu]]\ncores = 2\n");
        set(&mut v, "npu.rows", &Value::Integer(32)).unwrap();
        set(&mut v, "npu.freq", &Value::Integer(2)).unwrap();
        set(&mut v, "cpu.0.cores", &Value::Integer(4)).unwrap();
        set(&mut v, "pim.lanes", &Value::Integer(8)).unwrap();
        let want = value("[npu]\nrows = 32\nfreq = 2.0\n[[cpu]]\ncores = 4\n[pim]\nlanes = 8\n");
        assert_eq!(v, want);
    }

    #[test]
    fn bad_paths_are_errors_naming_them() {
        let mut v = value("[npu]\nrows = 16\n[[cpu]]\ncores = 2\n");
        let e = set(&mut v, "npu.rows.x", &Value::Integer(1)).unwrap_err();
        assert!(
            e.to_string().contains("`npu.rows` is of type integer"),
            "{e}"
        );
        let e = set(&mut v, "cpu.3.cores", &Value::Integer(1)).unwrap_err();
        assert!(e.to_string().contains("index 3"), "{e}");
        let e = set(&mut v, "npu..rows", &Value::Integer(1)).unwrap_err();
        assert!(e.to_string().contains("not a dotted"), "{e}");
    }
}
