//! NumPy `.npy` files, the way samples and measurements cross between upbench and other
//! frameworks (`upbench estimate`, `export-task`, `judge`): C-order float32 or float64 arrays of any
//! rank. Reading checks everything before it allocates (no input makes it panic or allocate more
//! than the file holds) and every error names the file and the place in it.

use std::path::{Path, PathBuf};

use npyz::WriterBuilder;
use tch::Tensor;

/// Why a `.npy` file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum NpyError {
    /// The file could not be read or written.
    #[error("{path}: {cause}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        cause: std::io::Error,
    },
    /// Not a `.npy` file, or one this reader does not take; the reason says where.
    #[error("{path}: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, and where.
        reason: String,
    },
}

/// An array read from a file: its shape and its values in C order, as float64.
#[derive(Debug, Clone, PartialEq)]
pub struct Array {
    /// The shape.
    pub shape: Vec<u64>,
    /// The values, C order.
    pub values: Vec<f64>,
    /// Whether the file held float32 (else float64).
    pub float32: bool,
}

impl Array {
    /// The values as a float64 tensor of the array's shape, on the CPU.
    pub fn to_tensor(&self) -> Result<Tensor, tch::TchError> {
        let shape: Vec<i64> = self.shape.iter().map(|&s| s as i64).collect();
        Tensor::f_from_slice(&self.values)?.f_reshape(&shape)
    }
}

/// Reads a C-order float32/float64 `.npy` file whose values are all finite.
pub fn read(path: &Path) -> Result<Array, NpyError> {
    let invalid = |reason: String| NpyError::Invalid { path: path.to_path_buf(), reason };
    let bytes = std::fs::read(path).map_err(|cause| NpyError::Io { path: path.to_path_buf(), cause })?;
    let mut rest: &[u8] = &bytes;
    // npyz multiplies the shape unchecked (a panic in debug builds): such a header is an error.
    let parsed = std::panic::catch_unwind(move || npyz::NpyHeader::from_reader(&mut rest).map(|h| (h, rest)));
    let (header, data) = match parsed {
        Ok(Ok(parsed)) => parsed,
        Ok(Err(e)) => return Err(invalid(format!("not a .npy file (its header: {e})"))),
        Err(_) => return Err(invalid("not a .npy file (its header declares a shape whose size overflows)".into())),
    };
    let data_start = bytes.len() - data.len();
    let shape = header.shape().to_vec();
    if header.order() != npyz::Order::C {
        return Err(invalid("Fortran-ordered arrays are not supported; save with numpy.ascontiguousarray".into()));
    }
    let descr = header.dtype().descr();
    let item_size: u64 = match descr.trim_matches('\'') {
        "<f8" => 8,
        "<f4" => 4,
        other => return Err(invalid(format!("dtype {other} is not supported (use float32 or float64)"))),
    };
    let needed = shape.iter().try_fold(item_size, |acc, &s| acc.checked_mul(s));
    if needed != Some(data.len() as u64) {
        let declared = needed.map_or("more than 2⁶⁴".to_string(), |n| n.to_string());
        return Err(invalid(format!(
            "its header declares shape {shape:?}, {declared} bytes of data from byte {data_start}, but the file holds {} bytes there",
            data.len()
        )));
    }
    let file = npyz::NpyFile::with_header(header, data);
    let values: Vec<f64> = match item_size {
        8 => file.into_vec::<f64>(),
        _ => file.into_vec::<f32>().map(|v| v.into_iter().map(f64::from).collect()),
    }
    .map_err(|e| invalid(format!("unreadable data from byte {data_start}: {e}")))?;
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(invalid(format!(
            "value {:?} is {} (NaN and infinities are not samples)",
            index_of(i, &shape),
            values[i]
        )));
    }
    Ok(Array { shape, values, float32: item_size == 4 })
}

/// The multi-index of flat position `i` in a C-order array of `shape`.
fn index_of(mut i: usize, shape: &[u64]) -> Vec<usize> {
    let mut index = vec![0; shape.len()];
    for (slot, &extent) in index.iter_mut().zip(shape).rev() {
        let extent = extent.max(1) as usize;
        *slot = i % extent;
        i /= extent;
    }
    index
}

/// Writes `tensor` (any floating dtype, any device) as a C-order `.npy` file of float64
/// (`float32 = false`) or float32.
pub fn write(path: &Path, tensor: &Tensor, float32: bool) -> Result<(), NpyError> {
    let io = |cause| NpyError::Io { path: path.to_path_buf(), cause };
    let shape: Vec<u64> = tensor.size().iter().map(|&s| s as u64).collect();
    let flat = tensor.to_device(tch::Device::Cpu).to_kind(tch::Kind::Double).flatten(0, -1);
    let values = Vec::<f64>::try_from(&flat).map_err(|e| io(std::io::Error::other(e)))?;
    let file = std::io::BufWriter::new(std::fs::File::create(path).map_err(io)?);
    if float32 {
        let mut writer =
            npyz::WriteOptions::<f32>::new().default_dtype().shape(&shape).writer(file).begin_nd().map_err(io)?;
        writer.extend(values.into_iter().map(|v| v as f32)).map_err(io)?;
        writer.finish().map_err(io)
    } else {
        let mut writer =
            npyz::WriteOptions::<f64>::new().default_dtype().shape(&shape).writer(file).begin_nd().map_err(io)?;
        writer.extend(values).map_err(io)?;
        writer.finish().map_err(io)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// A valid `.npy` file (format 1.0) of `shape` holding 0, 1, 2, … as float64 (`f8`) or float32.
    fn npy(shape: &[u64], f8: bool) -> Vec<u8> {
        let dims: Vec<String> = shape.iter().map(|s| s.to_string()).collect();
        let descr = if f8 { "<f8" } else { "<f4" };
        let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': ({},), }}", dims.join(", "));
        while (10 + header.len() + 1) % 64 != 0 {
            header.push(' ');
        }
        header.push('\n');
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
        out.extend_from_slice(header.as_bytes());
        for i in 0..shape.iter().product::<u64>() {
            if f8 {
                out.extend_from_slice(&(i as f64).to_le_bytes());
            } else {
                out.extend_from_slice(&(i as f32).to_le_bytes());
            }
        }
        out
    }

    /// Reads `bytes` as a file: never a panic; an error names the file.
    fn read_bytes(bytes: &[u8]) -> Result<Array, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("samples.npy");
        std::fs::write(&path, bytes).unwrap();
        read(&path).map_err(|e| {
            let message = e.to_string();
            assert!(message.contains(&path.display().to_string()), "an error that does not name the file: {message}");
            message
        })
    }

    #[test]
    fn a_valid_file_reads_and_its_damage_is_located() {
        let good = npy(&[2, 3, 4], true);
        let array = read_bytes(&good).unwrap();
        assert_eq!((array.shape.as_slice(), array.values[23], array.float32), ([2, 3, 4].as_slice(), 23.0, false));
        assert!(read_bytes(&npy(&[2, 3, 4], false)).unwrap().float32);
        let short = read_bytes(&good[..good.len() - 8]).unwrap_err();
        assert!(short.contains("192 bytes of data from byte 128") && short.contains("184 bytes there"), "{short}");
        let mut nan = good.clone();
        let at = good.len() - 8 * 5;
        nan[at..at + 8].copy_from_slice(&f64::NAN.to_le_bytes());
        let nan = read_bytes(&nan).unwrap_err();
        assert!(nan.contains("value [1, 1, 3] is NaN"), "{nan}");
    }

    #[test]
    fn written_arrays_read_back_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let t = Tensor::from_slice(&[0.1f64, -2.5, 1e-300, 3.0, 4.0, 5.0]).reshape([2, 1, 3]);
        for float32 in [false, true] {
            let path = dir.path().join(format!("a-{float32}.npy"));
            write(&path, &t, float32).unwrap();
            let back = read(&path).unwrap();
            assert_eq!((back.shape.as_slice(), back.float32), ([2, 1, 3].as_slice(), float32));
            let want: Vec<f64> = Vec::<f64>::try_from(t.flatten(0, -1)).unwrap();
            let want: Vec<f64> = if float32 { want.iter().map(|&v| v as f32 as f64).collect() } else { want };
            assert_eq!(back.values, want);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = read_bytes(&bytes);
        }

        #[test]
        fn damaged_files_never_panic(
            shape in proptest::collection::vec(0u64..4, 1..5),
            f8 in any::<bool>(),
            cut in any::<prop::sample::Index>(),
            flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        ) {
            let mut bytes = npy(&shape, f8);
            for (at, value) in flips {
                let i = at.index(bytes.len());
                bytes[i] = value;
            }
            let keep = cut.index(bytes.len() + 1);
            let _ = read_bytes(&bytes[..keep.max(bytes.len() / 2)]);
            let _ = read_bytes(&bytes);
        }

        #[test]
        fn headers_with_any_shape_never_panic(dims in proptest::collection::vec(any::<u64>(), 0..5)) {
            let shape: Vec<String> = dims.iter().map(|d| d.to_string()).collect();
            let dict = format!("{{'descr': '<f8', 'fortran_order': False, 'shape': ({},), }}", shape.join(", "));
            let mut header = dict.into_bytes();
            while (10 + header.len() + 1) % 64 != 0 {
                header.push(b' ');
            }
            header.push(b'\n');
            let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
            bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
            bytes.extend_from_slice(&header);
            bytes.extend_from_slice(&[0u8; 64]);
            let _ = read_bytes(&bytes);
        }
    }
}
