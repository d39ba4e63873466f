// Saves the CSV text the server built as a file; a blob URL needs no inline script and no eval under the CSP.
export function download(fileName, text) {
    // The byte order mark makes spreadsheet programs read the file as UTF-8.
    const url = URL.createObjectURL(new Blob(['\uFEFF', text], { type: 'text/csv;charset=utf-8' }));
    const link = document.createElement('a');
    link.href = url;
    link.download = fileName;
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 0);
}
