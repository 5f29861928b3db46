//! The row images of a rows event, read value by value.
//!
//! mysql_common's own iterator over a rows event ([`RowsEventData::rows`]) builds a description of
//! every column again for each row it reads (the column's name formatted as `@N`, the table
//! map's optional metadata parsed again), which took a fifth of the follower's CPU on a big
//! UPDATE. The layout of a row image is simple, and each value is read by mysql_common's own
//! decoder ([`BinlogValue`]), so the values are the ones its iterator gives:
//!
//! - a bitmap of the image's columns that are NULL (one bit per column present in the image);
//! - the values of the present, non-NULL columns, in the table's order.
//!
//! An UPDATE's row is its before image, then its after image.

use mysql_common::binlog::events::{RowsEventData, TableMapEvent};
use mysql_common::binlog::value::BinlogValue;
use mysql_common::constants::ColumnType;
use mysql_common::io::ParseBuf;

/// A row change's images, as the log holds them: an insert has only `after`, a delete only
/// `before`, an update both. Each holds the values of the columns present in the image.
pub type Images = (
    Option<Vec<mysql_common::Value>>,
    Option<Vec<mysql_common::Value>>,
);

/// Reads a rows event's rows with the column types and metadata of its table map.
pub struct Rows<'a> {
    data: ParseBuf<'a>,
    /// Per column of the table: its type and metadata in the table map.
    columns: Vec<(ColumnType, &'a [u8])>,
    /// The columns each image holds (by position), when the event has that image.
    before: Option<Vec<usize>>,
    after: Option<Vec<usize>>,
}

impl<'a> Rows<'a> {
    pub fn new(
        event: &'a RowsEventData<'a>,
        tme: &'a TableMapEvent<'a>,
    ) -> Result<Rows<'a>, String> {
        let columns = (0..event.num_columns() as usize)
            .map(|i| match tme.get_column_type(i) {
                Ok(Some(t)) => Ok((t, tme.get_column_metadata(i).unwrap_or(&[]))),
                Ok(None) => Err(format!("the table map has no type for column {}", i + 1)),
                Err(e) => Err(format!("column {}: {e}", i + 1)),
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Rows {
            data: ParseBuf(event.rows_data()),
            columns,
            before: event
                .columns_before_image()
                .map(|b| b.iter_ones().collect()),
            after: event.columns_after_image().map(|b| b.iter_ones().collect()),
        })
    }
}

impl Iterator for Rows<'_> {
    type Item = Result<Images, String>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.data.0.is_empty() {
            return None;
        }
        let (data, columns) = (&mut self.data, &self.columns);
        let mut read = |present: &Option<Vec<usize>>| {
            present
                .as_deref()
                .map(|p| image(data, columns, p))
                .transpose()
        };
        Some(read(&self.before).and_then(|before| Ok((before, read(&self.after)?))))
    }
}

/// One image from `data`: the NULL bitmap, then the values of the `present` columns that are
/// not NULL.
fn image<'a>(
    data: &mut ParseBuf<'a>,
    columns: &[(ColumnType, &'a [u8])],
    present: &[usize],
) -> Result<Vec<mysql_common::Value>, String> {
    let nulls: &[u8] = data
        .parse(present.len().div_ceil(8))
        .map_err(|e| e.to_string())?;
    present
        .iter()
        .enumerate()
        .map(|(n, &column)| {
            if nulls[n / 8] & (1 << (n % 8)) != 0 {
                return Ok(mysql_common::Value::NULL);
            }
            let (column_type, meta) = columns[column];
            // Integers are read as their stored bits (signed): the copy's catalog says which
            // columns are unsigned, whatever metadata the server logged.
            let value: BinlogValue<'a> = data
                .parse((column_type, meta, false, false))
                .map_err(|e| format!("column {}: {e}", column + 1))?;
            plain_value(value)
        })
        .collect()
}

/// A logged value as a plain value. MySQL 8's binary JSON becomes the text a SELECT gives
/// ([`crate::binjson`]), which is what the copy read (MariaDB logs JSON as text already).
pub fn plain_value(v: BinlogValue<'_>) -> Result<mysql_common::Value, String> {
    match v {
        BinlogValue::Value(v) => Ok(v),
        BinlogValue::Jsonb(j) => {
            crate::binjson::to_text(&j).map(|text| mysql_common::Value::Bytes(text.into_bytes()))
        }
        BinlogValue::JsonDiff(_) => Err(format!(
            "a partial JSON update (binlog_row_value_options=PARTIAL_JSON): {}",
            crate::binlog::HINT_PARTIAL_JSON
        )),
    }
}
