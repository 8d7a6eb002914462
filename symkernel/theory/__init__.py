"""What happens with depth: the kernel dynamics of Joudaki & Hofmann (AISTATS 2025), the isometry of
Gram matrices (Joudaki, Daneshmand & Bach, NeurIPS 2023), mean-field signal propagation (Pabari &
Zhou; Poole et al.; Schoenholz et al.) and the infinite-depth SDE limits of ResNets (Hayou, TMLR
2023)."""
