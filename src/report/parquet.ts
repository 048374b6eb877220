import { parquetWriteBuffer } from "hyparquet-writer";
import type { BasicType } from "hyparquet-writer";
import type { TableColumn, ColumnType } from "./cycle-table.js";

// Parquet of a report table, with hyparquet-writer: pure JavaScript (no WASM, no native build), ESM,
// one dependency (hyparquet, its reader), about 1 MB unpacked with it, released often; parquet-wasm
// ships a WASM binary of several MB, @dsnp/parquetjs pulls in the AWS S3 SDK, thrift and 10 more.

const PARQUET_TYPE: Record<ColumnType, BasicType> = { string: "STRING", integer: "INT64", number: "DOUBLE", boolean: "BOOLEAN" };

/** Every column nullable (a figure a cycle did not measure is null); whole numbers as INT64. */
export function renderParquet(columns: readonly TableColumn[]): ArrayBuffer {
  return parquetWriteBuffer({
    columnData: columns.map((c) => ({
      name: c.name, type: PARQUET_TYPE[c.type],
      data: c.type === "integer" ? c.values.map((v) => (v === null ? null : BigInt(v as number))) : c.values,
    })),
    createdBy: "lem (llenergymeasure)",
  });
}
