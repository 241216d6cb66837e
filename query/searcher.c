/* Placeholder translation unit until the search issue lands. */
typedef int qr_searcher_placeholder;
