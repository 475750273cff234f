package cli

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// maxLine bounds one line of input; an address is ≤ 254 octets.
const maxLine = 64 << 10

// errLooksLikeCSV reports an input file read as one address per line whose
// lines have commas: the user most likely meant a CSV file.
var errLooksLikeCSV = errors.New("lines contain commas: for a CSV file, name the address column with --column")

// inputs are where `mailprobe check` reads its addresses.
type inputs struct {
	args   []string  // addresses, "-" for the lines of stdin
	stdin  io.Reader //
	file   string    // --input: one address per line, or CSV with column
	column string    // --column: the CSV column that holds the addresses
}

// collect returns every address of the inputs, in order: the file's first,
// then the arguments (with stdin's lines in place of "-").
func (in inputs) collect() ([]string, error) {
	var out []string
	if in.file != "" {
		f, err := os.Open(in.file)
		if err != nil {
			return nil, fmt.Errorf("--input: %w", err)
		}
		defer f.Close()
		read := readLines
		if in.column != "" {
			read = func(r io.Reader) ([]string, error) { return readColumn(r, in.column) }
		}
		if out, err = read(f); err != nil {
			return nil, fmt.Errorf("--input %s: %w", in.file, err)
		}
	} else if in.column != "" {
		return nil, errors.New("--column needs --input FILE")
	}
	for _, a := range in.args {
		if a != "-" {
			out = append(out, a)
			continue
		}
		lines, err := readLines(in.stdin)
		if err != nil {
			return nil, fmt.Errorf("read stdin: %w", err)
		}
		out = append(out, lines...)
	}
	return out, nil
}

// readLines reads one address per line, skipping blank lines.
func readLines(r io.Reader) ([]string, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), maxLine)
	var out []string
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(strings.TrimPrefix(sc.Text(), "\ufeff"))
		if line == "" {
			continue
		}
		if strings.Contains(line, ",") {
			return nil, fmt.Errorf("line %d: %w", n, errLooksLikeCSV)
		}
		out = append(out, line)
	}
	return out, sc.Err()
}

// readColumn reads the column named column (case-insensitively) of a CSV
// file whose first row names the columns, skipping empty cells.
func readColumn(r io.Reader, column string) ([]string, error) {
	cr := csv.NewReader(bufio.NewReader(r))
	cr.FieldsPerRecord = -1 // ragged rows: only the one column matters
	cr.ReuseRecord = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("empty CSV file: want a header row naming the columns")
	}
	if err != nil {
		return nil, err
	}
	col := -1
	for i, h := range header {
		if strings.EqualFold(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")), column) {
			col = i
			break
		}
	}
	if col < 0 {
		return nil, fmt.Errorf("no column %q; the header has %q", column, header)
	}
	var out []string
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if col < len(rec) {
			if v := strings.TrimSpace(rec[col]); v != "" {
				out = append(out, v)
			}
		}
	}
}
