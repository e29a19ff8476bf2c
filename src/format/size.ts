// How a size reads for a person, everywhere: binary units with one decimal (`479.2 MiB`), bytes below 1 KiB.
// Exact byte counts stay in --json and in the messages that compare two sizes (where one byte matters).

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}
