//! One-to-one assignment maximising total weight (Kuhn–Munkres), for
//! matching latents to factors.

use super::disentanglement::Matrix;

/// One-to-one assignment of rows to distinct columns maximising the summed
/// weight (Kuhn–Munkres). Entry `i` of the result is the column given to
/// row `i`. When there are more rows than columns, only `cols` rows get a
/// column and the rest get `None`; otherwise every row gets `Some`.
///
/// # Panics
/// If a weight is not finite.
pub fn max_weight_assignment(weights: Matrix) -> Vec<Option<usize>> {
    weights.check_shape();
    assert!(
        weights.data.iter().all(|w| w.is_finite()),
        "max_weight_assignment: non-finite weight"
    );
    if weights.rows <= weights.cols {
        let row_to_col = min_cost_assignment(weights.rows, weights.cols, |i, j| -weights.at(i, j));
        row_to_col.into_iter().map(Some).collect()
    } else {
        // Assign the columns to rows on the transpose, then invert.
        let col_to_row = min_cost_assignment(weights.cols, weights.rows, |j, i| -weights.at(i, j));
        let mut row_to_col = vec![None; weights.rows];
        for (col, row) in col_to_row.into_iter().enumerate() {
            row_to_col[row] = Some(col);
        }
        row_to_col
    }
}

/// Hungarian algorithm with row and column potentials for a `rows`×`cols`
/// cost matrix with `rows <= cols`, O(rows²·cols). Rows are added one at a
/// time; each addition grows a shortest augmenting path (Dijkstra-like over
/// reduced costs `cost − u_row − v_col`, which stay ≥ 0) and flips it.
/// Returns the column of each row. Indices are 1-based inside, with row and
/// column 0 as a virtual start.
fn min_cost_assignment(rows: usize, cols: usize, cost: impl Fn(usize, usize) -> f64) -> Vec<usize> {
    debug_assert!(rows <= cols);
    let mut row_potential = vec![0.0; rows + 1];
    let mut col_potential = vec![0.0; cols + 1];
    let mut row_of_col = vec![0usize; cols + 1]; // 0 = unmatched
    let mut previous_col = vec![0usize; cols + 1];
    for row in 1..=rows {
        row_of_col[0] = row;
        let mut current_col = 0;
        let mut slack = vec![f64::INFINITY; cols + 1];
        let mut visited = vec![false; cols + 1];
        // Grow the alternating tree until it reaches a free column.
        loop {
            visited[current_col] = true;
            let current_row = row_of_col[current_col];
            let (mut delta, mut next_col) = (f64::INFINITY, 0);
            for col in 1..=cols {
                if visited[col] {
                    continue;
                }
                let reduced = cost(current_row - 1, col - 1) - row_potential[current_row] - col_potential[col];
                if reduced < slack[col] {
                    slack[col] = reduced;
                    previous_col[col] = current_col;
                }
                if slack[col] < delta {
                    delta = slack[col];
                    next_col = col;
                }
            }
            for col in 0..=cols {
                if visited[col] {
                    row_potential[row_of_col[col]] += delta;
                    col_potential[col] -= delta;
                } else {
                    slack[col] -= delta;
                }
            }
            current_col = next_col;
            if row_of_col[current_col] == 0 {
                break;
            }
        }
        // Flip the augmenting path back to the start.
        while current_col != 0 {
            let col = previous_col[current_col];
            row_of_col[current_col] = row_of_col[col];
            current_col = col;
        }
    }
    let mut col_of_row = vec![0; rows];
    for col in 1..=cols {
        if row_of_col[col] != 0 {
            col_of_row[row_of_col[col] - 1] = col - 1;
        }
    }
    col_of_row
}
